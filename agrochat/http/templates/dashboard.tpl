% rebase('base')
<div class="page-head">
  <h1>Resumen</h1>
  <p class="muted">Mensajes de hoy contados desde la medianoche ({{timezone}}).</p>
</div>

<section class="tiles">
  <a class="tile" href="/admin/producers">
    <span class="tile-label">Productores</span>
    <span class="tile-value">{{sum(producer_counts.values())}}</span>
    <span class="tile-detail">
      % for key, label in (("activo", "activos"), ("nuevo", "en registro"), ("inactivo", "inactivos")):
      <span>{{producer_counts.get(key, 0)}} {{label}}</span>
      % end
    </span>
  </a>
  <a class="tile {{'tile-warn' if needs_human else ''}}" href="/admin/producers?atencion=1">
    <span class="tile-label">Esperan a una persona</span>
    <span class="tile-value">{{needs_human}}</span>
    <span class="tile-detail">conversaciones escaladas por el asistente</span>
  </a>
  <div class="tile">
    <span class="tile-label">Mensajes hoy</span>
    <span class="tile-value">{{today.inbound}}</span>
    <span class="tile-detail">
      <span>{{today.outbound}} {{"respuesta" if today.outbound == 1 else "respuestas"}}</span>
      % if today.failed:
      <span class="bad-text">{{today.failed}} sin respuesta</span>
      % end
    </span>
  </div>
  % liked, disliked = reactions.get('👍', 0), reactions.get('👎', 0)
  % others = sum(reactions.values()) - liked - disliked
  <div class="tile {{'tile-warn' if disliked > liked else ''}}">
    <span class="tile-label">Opinión de las respuestas</span>
    <span class="tile-value">👍 {{liked}} · 👎 {{disliked}}</span>
    <span class="tile-detail">
      <span>reacciones de los productores, últimos {{reaction_days}} días</span>
      % if others:
      <span>{{others}} con otros emojis</span>
      % end
    </span>
  </div>
  <a class="tile {{'tile-bad' if alert_counts.get('failed') else ''}}" href="/admin/alerts?estado=pending">
    <span class="tile-label">Alertas pendientes</span>
    <span class="tile-value">{{alert_counts.get('pending', 0) + alert_counts.get('sending', 0)}}</span>
    <span class="tile-detail">
      <span>{{alert_counts.get('failed', 0)}} fallidas</span>
      <span>{{alert_counts.get('sent', 0)}} enviadas</span>
    </span>
  </a>
</section>

<div class="columns">
  <section class="card">
    <h2>Estado del sistema
      <span class="badge {{'badge-ok' if healthy else 'badge-bad'}}">{{'Operativo' if healthy else 'Con problemas'}}</span>
    </h2>
    <dl class="health">
    % labels = {"database": "Base de datos", "model": "Modelo", "gateway": "WhatsApp", "actors": "Actores"}
    % failing = {reason.split(":")[0] for reason in health.get("reasons", [])}
    % for key, value in health.items():
      % if key in ("status", "reasons"):
      %   continue
      % end
      <dt>{{labels.get(key, key)}}</dt>
      % if isinstance(value, dict):
      <dd>
        % for name, state in value.items():
        <span class="chip {{'chip-ok' if state == 'alive' else 'chip-bad'}}">{{name}}: {{state}}</span>
        % end
      </dd>
      % else:
      <dd><span class="chip {{'chip-bad' if key in failing else 'chip-ok'}}">{{value}}</span></dd>
      % end
    % end
    </dl>
    % if health.get("reasons"):
    <ul class="reasons">
      % for reason in health["reasons"]:
      <li>{{reason}}</li>
      % end
    </ul>
    % end
  </section>

  <section class="card">
    <h2>Esperan a una persona</h2>
    % if flagged:
    <table class="table compact">
      <thead><tr><th>Productor</th><th>Cultivo</th><th>Último mensaje</th></tr></thead>
      <tbody>
      % for p in flagged:
        <tr>
          <td data-label="Productor"><a href="/admin/producers/{{p.id}}">{{p.name or phone_label(p.phone)}}</a></td>
          <td data-label="Cultivo">{{p.cultivo or '—'}}</td>
          <td data-label="Último mensaje">{{when(p.last_inbound_at)}}</td>
        </tr>
      % end
      </tbody>
    </table>
    % else:
    <p class="muted">Nadie espera respuesta de una persona.</p>
    % end
  </section>
</div>

% if failed_alerts:
<section class="card">
  <h2>Últimas alertas fallidas</h2>
  <table class="table compact">
    <thead><tr><th>#</th><th>Para</th><th>Mensaje</th><th>Error</th><th>Programada</th></tr></thead>
    <tbody>
    % for a in failed_alerts:
      <tr>
        <td data-label="#">{{a.id}}</td>
        <td data-label="Para">
          % if a.producer_id:
          <a href="/admin/producers/{{a.producer_id}}">{{phone_label(a.phone)}}</a>
          % else:
          {{phone_label(a.phone)}}
          % end
        </td>
        <td data-label="Mensaje" class="clip">{{a.message}}</td>
        <td data-label="Error" class="clip muted">{{a.last_error or '—'}}</td>
        <td data-label="Programada">{{when(a.scheduled_at)}}</td>
      </tr>
    % end
    </tbody>
  </table>
</section>
% end

<section class="card trends" id="tendencias">
  <h2>Tendencias</h2>
  <nav class="range" aria-label="Periodo de las gráficas">
    % for n in spans:
    <a href="/admin?dias={{n}}#tendencias" class="{{'active' if n == span else ''}}" {{!'aria-current="page"' if n == span else ''}}>{{n}} días</a>
    % end
  </nav>
  <div class="charts">
  % for chart in charts:
    <figure class="chart">
      <figcaption><strong>{{chart.title}}</strong> <span class="muted">{{chart.note}}</span></figcaption>
      {{!chart.svg}}
      <details>
        <summary>Ver los números</summary>
        <div class="chart-numbers">
          <table class="table compact">
            <caption>{{chart.title}}, últimos {{span}} días</caption>
            <thead><tr><th scope="col">Día</th>
            % for column in chart.columns:
              <th scope="col">{{column}}</th>
            % end
            </tr></thead>
            <tbody>
            % for day, cells in chart.rows:
              <tr><th scope="row">{{day}}</th>
              % for column, cell in zip(chart.columns, cells):
                <td data-label="{{column}}">{{cell}}</td>
              % end
              </tr>
            % end
            </tbody>
          </table>
        </div>
      </details>
    </figure>
  % end
  </div>
</section>
