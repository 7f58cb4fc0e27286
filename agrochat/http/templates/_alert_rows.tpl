<table class="table">
  <thead>
    <tr>
      <th>#</th>
      % if show_target:
      <th>Para</th>
      % end
      <th>Nivel</th><th>Mensaje</th><th>Estado</th><th>Programada</th><th>Origen</th><th></th>
    </tr>
  </thead>
  <tbody>
  % for a in rows:
    <tr>
      <td data-label="#" class="mono">{{a.id}}</td>
      % if show_target:
      <td data-label="Para">
        % if a.producer_id:
        <a href="/admin/producers/{{a.producer_id}}">{{names.get(a.producer_id) or phone_label(a.phone)}}</a>
        % else:
        <span class="mono">{{phone_label(a.phone)}}</span>
        % end
      </td>
      % end
      <td data-label="Nivel"><span class="badge level-{{a.level}}">{{a.level}}</span></td>
      <td data-label="Mensaje" class="message">{{a.message}}
        % if a.last_error and a.status != 'sent':
        <div class="small bad-text">{{a.last_error}}</div>
        % end
      </td>
      <td data-label="Estado">
        <span class="badge alert-{{a.status}}">{{alert_status.get(a.status, a.status)}}</span>
        % if a.attempts:
        <div class="small muted">{{a.attempts}} intento{{'s' if a.attempts != 1 else ''}}</div>
        % end
      </td>
      <td data-label="Programada">{{when(a.scheduled_at)}}
        % if a.sent_at:
        <div class="small muted">enviada {{when(a.sent_at)}}</div>
        % elif a.expires_at and a.status in ('pending', 'sending'):
        <div class="small muted">vence {{when(a.expires_at)}}</div>
        % end
      </td>
      <td data-label="Origen" class="small">{{a.source}}</td>
      <td data-label="" class="row-actions">
        % if a.status in ('pending', 'sending'):
        <form method="post" action="/admin/alerts/{{a.id}}/cancel">
          <input type="hidden" name="csrf" value="{{csrf}}">
          <input type="hidden" name="volver" value="{{back}}">
          <button type="submit" class="danger small-button">Cancelar</button>
        </form>
        % end
      </td>
    </tr>
  % end
  </tbody>
</table>
