% rebase('base')
<div class="page-head">
  <h1>Sistema <span class="badge">agrochat {{version}}</span></h1>
  <p class="muted">Cómo está funcionando agrochat ahora. Los operadores tienen lo mismo en JSON en <span class="mono">/debug/actors</span>.</p>
</div>

<section class="card">
  <h2>Actores
    % if escalated:
    <span class="badge badge-bad">El supervisor se rindió</span>
    % end
  </h2>
  % if escalated:
  <p class="bad-text">{{escalated}}</p>
  % end
  % if actors is None:
  <p class="muted">agrochat está iniciando: los actores aún no arrancan.</p>
  % else:
  <div class="system-actors">
  <table class="table compact">
    <thead><tr><th scope="col">Actor</th><th scope="col">Estado</th><th scope="col">En cola</th><th scope="col">Reinicios</th><th scope="col">Último fallo</th></tr></thead>
    <tbody>
    % for a in actors:
      <tr>
        <td data-label="Actor"><strong class="mono">{{a.id}}</strong><br><span class="muted">{{a.actor_class or '—'}}</span></td>
        <td data-label="Estado"><span class="chip {{'chip-ok' if a.alive else 'chip-bad'}}">{{'vivo' if a.alive else 'caído'}}</span>
          % if a.state.get('busy'):
          <span class="chip chip-bad">ocupado</span>
          % end
        </td>
        <td data-label="En cola">{{a.inbox_size}}</td>
        <td data-label="Reinicios">{{a.restarts}}</td>
        <td data-label="Último fallo">
          % if a.last_failure:
          <span class="mono">{{a.last_failure}}</span><br><span class="muted">{{failed_at(a.last_failure_at)}}</span>
          % else:
          —
          % end
        </td>
      </tr>
    % end
    </tbody>
  </table>
  </div>
  % end
</section>

<section class="card">
  <h2>Procesos</h2>
  % if processes is None:
  <p class="muted">No se pudo leer la lista de procesos.</p>
  % elif not processes:
  <p class="muted">Ningún proceso ha dado señales todavía.</p>
  % else:
  <p class="muted">Los procesos de agrochat que comparten esta base de datos y dieron señales de vida hace poco. Cada sesión de WAHA la atiende uno solo; los demás esperan y la toman si ese proceso cae.</p>
  <div class="system-processes">
  <table class="table compact">
    <thead><tr><th scope="col">Proceso</th><th scope="col">Equipo</th><th scope="col">PID</th><th scope="col">Dirección</th><th scope="col">Inicio</th><th scope="col">Última señal</th><th scope="col">Atiende</th></tr></thead>
    <tbody>
    % for p in processes:
      <tr>
        <td data-label="Proceso"><span class="mono">{{p.id}}</span>
          % if p.this:
          <span class="chip">este</span>
          % end
          <br><span class="muted">agrochat {{p.version}}</span></td>
        <td data-label="Equipo" class="mono">{{p.host}}</td>
        <td data-label="PID" class="mono">{{p.pid}}</td>
        <td data-label="Dirección" class="mono">{{p.bind}}</td>
        <td data-label="Inicio">{{p.started}}</td>
        <td data-label="Última señal">hace {{'%.0f' % p.heartbeat_ago_s}} s</td>
        <td data-label="Atiende">{{p.owns}}</td>
      </tr>
    % end
    </tbody>
  </table>
  </div>
  % end
</section>

<div class="columns">
  <section class="card">
    <h2>Modelo
      % if model.state:
      <span class="badge {{'badge-bad' if model.state == 'failed' else ('badge-ok' if model.state in ('ready', 'remote') else 'badge-warn')}}">{{model_states.get(model.state, model.state)}}</span>
      % end
    </h2>
    <dl class="health">
      <dt>Archivo o servidor</dt><dd class="mono">{{model.source or '—'}}</dd>
      <dt>Motor</dt><dd class="mono">{{model.backend or '—'}}</dd>
      % if model.detail and model.detail != model.source:
      <dt>Detalle</dt><dd>{{model.detail}}</dd>
      % end
      <dt>Tokens por segundo</dt><dd>{{'%.1f' % model.tokens_per_s if model.tokens_per_s is not None else '—'}} <span class="muted">(última consulta)</span></dd>
      <dt>En cola</dt><dd>{{model.queued if model.queued is not None else '—'}}{{' de %d como máximo' % model.queue_limit if model.queue_limit else ''}}</dd>
      % if model.counts:
      <dt>Consultas</dt><dd>
        % for outcome, n in sorted(model.counts.items()):
        <span class="chip">{{outcome}}: {{n}}</span>
        % end
      </dd>
      % end
    </dl>
  </section>

  <section class="card">
    <h2>Base de datos</h2>
    % if database is None:
    <p class="muted">La base de datos aún no está abierta.</p>
    % else:
    <dl class="health">
      <dt>Tipo</dt><dd class="mono">{{ {'sqlite': 'SQLite', 'postgresql': 'PostgreSQL'}.get(database.kind, database.kind) }}</dd>
      <dt>Tamaño</dt><dd>{{size(database.size_bytes)}}</dd>
      <dt>Versión del esquema</dt><dd>{{database.schema_version if database.schema_version is not None else '—'}}</dd>
    </dl>
    % end
  </section>
</div>

<section class="card">
  <h2>WhatsApp</h2>
  % if not numbers:
  <p class="muted">
    % if mode == 'none':
    Sin pasarela propia: los mensajes llegan por <span class="mono">POST /agent</span>.
    % else:
    Ningún número configurado ({{mode}}).
    % end
  </p>
  % else:
  <ul class="system-numbers">
    % for n in numbers:
    <li>
      <span class="mono">{{n.kind}} {{n.channel}}</span>
      <span class="badge {{'badge-ok' if n.problem is None else ('badge-bad' if n.red else 'badge-warn')}}">{{standby_label if n.standby else labels.get(n.problem, n.problem)}}</span>
      % if n.kind == 'waha' and n.session == scan:
      <a href="/admin/whatsapp">Vincular el teléfono (código QR)</a>
      % end
    </li>
    % end
  </ul>
  % end
  <p><a href="/admin/whatsapp">Ver el detalle de WhatsApp</a></p>
</section>
