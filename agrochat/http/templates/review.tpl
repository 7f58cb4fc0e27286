% rebase('base')
<div class="page-head">
  <h1>Respuestas para revisar</h1>
  <p class="muted">Respuestas del asistente que conviene que vea un agrónomo: no tenía una respuesta verificada, el productor reaccionó con 👎 o volvió a preguntar enseguida, o alguien del equipo la marcó desde la conversación. Las más antiguas primero. Así crece la base de conocimiento con preguntas reales.</p>
</div>

% if done:
<section class="card review-done" aria-label="Respuesta enviada">
  <p>Respuesta correcta enviada a <a href="/admin/producers/{{done.producer_id}}">{{done.producer_name or phone_label(done.phone)}}</a>. Para que el asistente la tenga la próxima vez, guárdala como consejo con su fuente.</p>
  <div class="review-actions">
    <a class="button primary" href="{{entry_link(done)}}">Crear un consejo con esta pregunta</a>
  </div>
</section>
% end

% if focused:
<p><a href="/admin/review">← Toda la cola</a></p>
% end

% if items:
% for item in items:
<section class="card review-item" id="respuesta-{{item.reply_id}}" aria-label="Respuesta {{item.reply_id}}">
  <div class="review-head">
    <a href="/admin/producers/{{item.producer_id}}"><strong>{{item.producer_name or phone_label(item.phone)}}</strong></a>
    <span class="muted small">{{item.crop or 'cultivo sin registrar'}} · {{when(item.replied_at)}}</span>
  </div>
  <ul class="review-reasons" aria-label="Por qué está aquí">
    % for reason in item.reasons:
    <li class="badge {{'badge-bad' if reason == 'pulgar_abajo' else 'badge-warn'}}">{{reasons[reason]}}{{' por ' + item.flagged_by.removeprefix('admin:') if reason == 'marcada' and item.flagged_by else ''}}</li>
    % end
  </ul>
  <ol class="chat review-chat">
    <li class="msg msg-in">
      <div class="bubble">{{item.question}}</div>
      <div class="meta">Pregunta del productor</div>
    </li>
    <li class="msg msg-out">
      <div class="bubble">{{item.reply_text}}</div>
      <div class="meta">Respuesta de agrochat</div>
    </li>
  </ol>
  <div class="review-actions">
    <form method="post" action="/admin/review/{{item.reply_id}}/fine" class="inline">
      <input type="hidden" name="csrf" value="{{csrf}}">
      <input type="hidden" name="volver" value="{{back}}">
      <button type="submit">Está bien</button>
    </form>
    <a class="button" href="{{entry_link(item)}}">Crear un consejo con esta pregunta</a>
  </div>
  <details class="review-answer" {{'open' if item.reply_id in answer_errors else ''}}>
    <summary>Escribir la respuesta correcta al productor</summary>
    % if delivers:
    <form method="post" action="/admin/review/{{item.reply_id}}/answer" class="reply-form">
      <input type="hidden" name="csrf" value="{{csrf}}">
      <input type="hidden" name="volver" value="{{back}}">
      <label for="texto-{{item.reply_id}}">Respuesta correcta</label>
      <textarea id="texto-{{item.reply_id}}" name="texto" rows="3" maxlength="{{max_chars}}" class="{{'invalid' if item.reply_id in answer_errors else ''}}">{{answer_texts.get(item.reply_id, '')}}</textarea>
      % if item.reply_id in answer_errors:
      <p class="field-error" role="alert">{{answer_errors[item.reply_id]}}</p>
      % end
      <div class="review-actions">
        <button type="submit" class="primary">Enviar por WhatsApp</button>
        <span class="muted small">Se envía como mensaje del equipo; el asistente deja de contestar a este productor hasta que le devuelvas la conversación.</span>
      </div>
    </form>
    % else:
    <p class="field-error" role="alert">{{answer_errors.get(item.reply_id) or 'agrochat no tiene una pasarela de WhatsApp propia: no puede enviar mensajes desde el panel.'}}</p>
    % end
  </details>
</section>
% end
% if not focused:
<section class="card">
% include('_pager', link=lambda n: url('/admin/review', pagina=n))
</section>
% end
% else:
<section class="card">
  <p class="empty">No hay respuestas para revisar.</p>
</section>
% end
