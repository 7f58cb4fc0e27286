% rebase('base')
<div class="page-head">
  <h1>WhatsApp</h1>
  % if mode == 'none':
  <p class="muted">agrochat no tiene una pasarela propia (AGROCHAT_WHATSAPP=none): los mensajes llegan por <span class="mono">POST /agent</span> y las alertas esperan a que un puente las pida.</p>
  % elif mode == 'console':
  <p class="muted">Modo consola (AGROCHAT_WHATSAPP=console): los mensajes salientes se escriben en la salida estándar.</p>
  % else:
  <p class="muted">Cada productor recibe las respuestas por el número al que escribió.</p>
  % end
</div>

% for n in numbers:
<section class="card">
  <h2>{{'Sesión de WAHA' if n.kind == 'waha' else ('Número de la Cloud API' if n.kind == 'cloud' else 'Consola')}}
    <span class="mono">{{n.channel}}</span>
    <span class="badge {{'badge-ok' if n.problem is None else ('badge-bad' if n.red else 'badge-warn')}}">{{standby_label if n.standby else labels.get(n.problem, n.problem)}}</span>
  </h2>
  <dl class="health">
    % if n.kind == 'waha':
    <dt>Estado de la sesión</dt><dd class="mono">{{n.session or 'desconocido'}}</dd>
    <dt>Conexión de eventos</dt><dd class="mono">{{n.connection or '—'}}</dd>
    % end
    % if n.me:
    <dt>Teléfono vinculado</dt><dd class="mono">{{phone_label(n.me)}}</dd>
    % end
    % if n.detail:
    <dt>Último aviso</dt><dd>{{n.detail}}</dd>
    % end
  </dl>
  % if n.kind == 'waha' and n.session == scan:
  <p><strong>Vincula el teléfono del número:</strong></p>
  <ol class="steps">
    <li>Abre WhatsApp en ese teléfono.</li>
    <li>Menú › Dispositivos vinculados › Vincular un dispositivo.</li>
    <li>Apunta la cámara a este código (se renueva solo).</li>
  </ol>
  <img class="qr" src="/admin/whatsapp/{{n.channel}}/qr" alt="Código QR para vincular el número {{n.channel}}">
  % end
</section>
% end
