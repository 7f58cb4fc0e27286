% rebase('base')
<div class="page-head with-action">
  <h1>Base de conocimiento</h1>
  <a class="button primary" href="/admin/knowledge/new">Nuevo consejo</a>
</div>
<p class="muted">Consejos verificados que el asistente cita, cada uno con su fuente. Un agrónomo los revisa y los marca como revisados; un cambio llega a las conversaciones en un minuto como máximo.</p>
% if pending:
<p class="notice ok">{{pending}} consejo{{'s' if pending != 1 else ''}} esperan revisión. <a href="{{url('/admin/knowledge', revision='pending')}}">Ver pendientes</a></p>
% end

<section class="card">
  <form method="get" action="/admin/knowledge" class="filters">
    <div class="grow">
      <label for="q">Buscar</label>
      <input id="q" name="q" type="search" value="{{query}}" placeholder="Título, texto, palabra clave, cultivo o fuente" maxlength="100">
    </div>
    <div>
      <label for="tema">Tema</label>
      <select id="tema" name="tema">
        <option value="">Todos</option>
        % for t in topics:
        <option value="{{t}}" {{'selected' if t == topic else ''}}>{{t}}</option>
        % end
      </select>
    </div>
    <div>
      <label for="revision">Revisión</label>
      <select id="revision" name="revision">
        <option value="">Todas</option>
        <option value="pending" {{'selected' if review == 'pending' else ''}}>pendiente</option>
        <option value="reviewed" {{'selected' if review == 'reviewed' else ''}}>revisado</option>
      </select>
    </div>
    <div><button type="submit">Filtrar</button></div>
  </form>

  % if entries:
  <table class="table">
    <thead><tr><th>Título</th><th>Cultivo</th><th>Tema</th><th>Fuente</th><th>Revisión</th><th>Respuesta</th></tr></thead>
    <tbody>
    % for e in entries:
      <tr>
        <td data-label="Título"><a href="/admin/knowledge/{{e.id}}">{{e.title}}</a></td>
        <td data-label="Cultivo">{{e.crop or 'todos'}}</td>
        <td data-label="Tema">{{e.topic or '—'}}</td>
        <td data-label="Fuente" class="source">{{e.source or '—'}}, {{e.source_year or 's. f.'}}</td>
        <td data-label="Revisión">
          % if e.review_status == 'reviewed':
          <span class="badge badge-ok" title="{{e.reviewed_by}}">revisado</span>
          % else:
          <span class="badge badge-warn">pendiente</span>
          % end
        </td>
        <td data-label="Respuesta" class="clip">{{e.answer}}</td>
      </tr>
    % end
    </tbody>
  </table>
  % include('_pager', link=lambda n: url('/admin/knowledge', q=query, tema=topic, revision=review, pagina=n))
  % else:
  <p class="empty">No hay consejos{{' que coincidan' if query or topic or review else ''}}.</p>
  % end
</section>
