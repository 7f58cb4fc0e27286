% rebase('base')
<div class="page-head with-action">
  <h1>Base de conocimiento</h1>
  <a class="button primary" href="/admin/knowledge/new">Nuevo consejo</a>
</div>
<p class="muted">Consejos revisados que el asistente puede citar. Un cambio llega a las conversaciones en un minuto como máximo.</p>

<section class="card">
  <form method="get" action="/admin/knowledge" class="filters">
    <div class="grow">
      <label for="q">Buscar</label>
      <input id="q" name="q" type="search" value="{{query}}" placeholder="Título, texto, palabra clave o cultivo" maxlength="100">
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
    <div><button type="submit">Filtrar</button></div>
  </form>

  % if entries:
  <table class="table">
    <thead><tr><th>Título</th><th>Cultivo</th><th>Tema</th><th>Consejo</th></tr></thead>
    <tbody>
    % for e in entries:
      <tr>
        <td><a href="/admin/knowledge/{{e.id}}">{{e.title}}</a></td>
        <td>{{e.crop or 'todos'}}</td>
        <td>{{e.topic or '—'}}</td>
        <td class="clip">{{e.body}}</td>
      </tr>
    % end
    </tbody>
  </table>
  % include('_pager', link=lambda n: url('/admin/knowledge', q=query, tema=topic, pagina=n))
  % else:
  <p class="empty">No hay consejos{{' que coincidan' if query or topic else ''}}.</p>
  % end
</section>
