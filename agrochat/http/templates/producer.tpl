% rebase('base')
% msg_status = {"received": "sin responder aún", "answered": "respondido", "failed": "falló la respuesta", "held": "para el equipo"}
% delivery_label = {"pending": "en cola", "sending": "enviando", "sent": "enviado", "delivered": "entregado", "read": "leído", "failed": "no se pudo enviar"}
<div class="page-head">
  <p class="crumbs"><a href="/admin/producers">Productores</a> ›</p>
  <h1>{{producer.name or 'Productor sin nombre'}}
    <span class="badge status-{{producer.status}}">{{producer_status.get(producer.status, producer.status)}}</span>
  </h1>
  <p class="muted">
    <span class="mono">{{phone_label(producer.phone)}}</span>
    · registrado {{when(producer.created_at, False)}}
    · último mensaje {{when(producer.last_inbound_at)}}
  </p>
</div>

% if producer.taken_over:
<section class="attention">
  <div>
    <strong>Una persona del equipo atiende esta conversación</strong>
    % if producer.taken_over_by == 'escalado':
    (el productor pidió hablar con una persona).
    % elif producer.taken_over_by:
    ({{producer.taken_over_by.removeprefix('admin:')}}).
    % end
    El asistente no responde a este productor hasta que se la devuelvas.
  </div>
  <form method="post" action="/admin/producers/{{producer.id}}/handback">
    <input type="hidden" name="csrf" value="{{csrf}}">
    <button type="submit" class="primary">Devolver al asistente</button>
  </form>
</section>
% elif producer.needs_human:
<section class="attention">
  <div>
    <strong>Esta conversación espera a una persona.</strong>
    % if escalated_at:
    El asistente la escaló el {{when(escalated_at)}}{{' (mensaje marcado abajo)' if escalated_message else ''}}:
    % else:
    El asistente la escaló:
    % end
    revisa la conversación y contacta al productor.
  </div>
  <div class="actions">
    % if delivers:
    <form method="post" action="/admin/producers/{{producer.id}}/takeover">
      <input type="hidden" name="csrf" value="{{csrf}}">
      <button type="submit">Tomar la conversación</button>
    </form>
    % end
    <form method="post" action="/admin/producers/{{producer.id}}/resolve">
      <input type="hidden" name="csrf" value="{{csrf}}">
      <button type="submit" class="primary">Marcar como resuelta</button>
    </form>
  </div>
</section>
% end

<div class="columns columns-wide">
  <div>
    <section class="card">
      <h2>Perfil</h2>
      % if missing:
      <p class="muted small">Faltan datos obligatorios: {{', '.join(form.get(n).label for n in missing)}}.</p>
      % end
      % if errors and not errors.get('estado'):
      <div class="notice bad" role="alert">No se guardó nada: corrige los campos marcados.</div>
      % end
      <form method="post" action="/admin/producers/{{producer.id}}/profile" class="profile" novalidate>
        <input type="hidden" name="csrf" value="{{csrf}}">
        % for f in form.fields:
        %   value = values.get(f.name) or ''
        %   bad = 'invalid' if errors.get(f.name) else ''
        <div class="field">
          <label for="f-{{f.name}}">{{f.label[:1].upper() + f.label[1:]}}{{' *' if f.required else ''}}</label>
          % if f.type == 'enum' and not f.allow_other:
          <select id="f-{{f.name}}" name="{{f.name}}" class="{{bad}}">
            <option value="">— sin dato —</option>
            % for option in f.options:
            <option value="{{option}}" {{'selected' if option == value else ''}}>{{option}}</option>
            % end
            % if value and value not in f.options:
            <option value="{{value}}" selected>{{value}}</option>
            % end
          </select>
          % elif f.type == 'date':
          <input id="f-{{f.name}}" name="{{f.name}}" type="date" value="{{value}}" class="{{bad}}">
          % elif f.type == 'enum':
          <input id="f-{{f.name}}" name="{{f.name}}" value="{{value}}" list="opts-{{f.name}}" maxlength="200" class="{{bad}}">
          <datalist id="opts-{{f.name}}">
            % for option in f.options:
            <option value="{{option}}">
            % end
          </datalist>
          % else:
          <div class="with-unit">
            <input id="f-{{f.name}}" name="{{f.name}}" value="{{value}}" maxlength="200" class="{{bad}}"
                   {{'inputmode=decimal' if f.type == 'number' else ''}}>
            % if f.unit:
            <span class="unit">{{f.unit}}</span>
            % end
          </div>
          % end
          % include('_field_error', name=f.name)
        </div>
        % end
        <div class="actions">
          <button type="submit" class="primary">Guardar perfil</button>
          <span class="muted small">Se valida igual que en la conversación.</span>
        </div>
      </form>
    </section>

    <section class="card">
      <h2>Estado</h2>
      <form method="post" action="/admin/producers/{{producer.id}}/status" class="inline-form">
        <input type="hidden" name="csrf" value="{{csrf}}">
        <div class="grow">
          <label for="estado">Estado del productor</label>
          <select id="estado" name="estado" class="{{'invalid' if errors.get('estado') else ''}}">
            % for key, label in producer_status.items():
            <option value="{{key}}" {{'selected' if key == producer.status else ''}}>{{label}}</option>
            % end
          </select>
          % include('_field_error', name='estado')
        </div>
        <div><button type="submit">Cambiar</button></div>
      </form>
      <p class="muted small">Los inactivos no reciben alertas por cultivo, distrito ni a todos.</p>
    </section>
  </div>

  <section class="card conversation">
    <h2>Conversación
      <span class="muted small">{{len(history.messages)}} de {{history.total}} mensajes</span>
      <a class="button small-button" href="/admin/exports/producers/{{producer.id}}/conversation.csv" download>Exportar CSV</a>
    </h2>
    % if history.total > len(history.messages):
    <p class="small">Ver los últimos:
      % for n in history_sizes:
      % if n != history_size:
      <a href="{{url('/admin/producers/%d' % producer.id, mensajes=n)}}">{{n}}</a>
      % end
      % end
    </p>
    % end
    % if history.messages:
    <ol class="chat">
      % for m in history.messages:
      <li class="msg msg-{{m.direction}} {{'msg-escalated' if m.id == escalated_message else ''}}">
        % if m.is_voice:
        <div class="bubble voice">
          <span class="voice-mark" title="Nota de voz" aria-label="Nota de voz">🎤</span>
          % if m.transcript_confidence is not None:
          {{m.text}}
          <span class="muted small {{'bad-text' if m.transcript_confidence < low_confidence else ''}}">(transcripción, confianza {{'%d' % round(m.transcript_confidence * 100)}}&nbsp;%)</span>
          % else:
          <span class="muted small">nota de voz sin transcribir</span>
          % end
          % if m.id in voice_notes:
          <audio controls preload="none" src="/admin/producers/{{producer.id}}/voice/{{m.id}}"></audio>
          % end
        </div>
        % else:
        <div class="bubble">{{m.text}}</div>
        % end
        <div class="meta">
          % if m.direction == 'in':
          Productor
          % elif m.author:
          {{m.author.removeprefix('admin:')}} (equipo)
          % else:
          agrochat
          % end
          · {{when(m.created_at)}}
          % if m.media_type and not m.is_voice:
          · {{m.media_type}}
          % end
          % if m.direction == 'in' and m.status != 'answered':
          · <span class="{{'bad-text' if m.status == 'failed' else ''}}">{{msg_status.get(m.status, m.status)}}</span>
          % end
          % if m.id in deliveries:
          · <span class="delivery delivery-{{deliveries[m.id]}} {{'bad-text' if deliveries[m.id] == 'failed' else ''}}">{{delivery_label.get(deliveries[m.id], deliveries[m.id])}}</span>
          % end
          % if m.id in reactions:
          · <span class="reaction" title="Reacción del productor">{{reactions[m.id]}}</span>
          % end
          % if m.role:
          · {{m.role}}
          % end
          % if m.id == escalated_message:
          · <strong>escalado a una persona</strong>
          % end
          % if m.direction == 'out' and not m.author and m.reply_to_id:
          · <form method="post" action="/admin/review/{{m.id}}/flag" class="flag-form"><input type="hidden" name="csrf" value="{{csrf}}"><input type="hidden" name="volver" value="{{back}}"><button type="submit">Marcar para revisar</button></form>
          % end
        </div>
      </li>
      % end
    </ol>
    % else:
    <p class="empty">Sin mensajes todavía.</p>
    % end
    % if delivers:
    <form method="post" action="/admin/producers/{{producer.id}}/reply" class="reply-form">
      <input type="hidden" name="csrf" value="{{csrf}}">
      <label for="texto">Responder como persona del equipo</label>
      <textarea id="texto" name="texto" rows="3" maxlength="4000" class="{{'invalid' if errors.get('texto') else ''}}">{{reply_text}}</textarea>
      % include('_field_error', name='texto')
      <div class="actions">
        <button type="submit" class="primary">Enviar por WhatsApp</button>
        <span class="muted small">Al responder, el asistente deja de contestar a este productor hasta que le devuelvas la conversación.</span>
      </div>
    </form>
    % elif errors.get('texto'):
    % include('_field_error', name='texto')
    % end
  </section>
</div>

<section class="card">
  <h2>Alertas de este productor
    <a class="button small-button" href="{{url('/admin/alerts/new', telefono=producer.phone)}}">Nueva alerta</a>
  </h2>
  % if alerts:
  % include('_alert_rows', rows=alerts, names={}, back=back, show_target=False)
  % else:
  <p class="empty">No tiene alertas.</p>
  % end
</section>
