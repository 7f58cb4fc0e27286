% rebase('base')
<div class="page-head">
  <h1>Auditoría</h1>
  <p class="muted">Cambios registrados por el panel y por el asistente, del más reciente al más antiguo.</p>
</div>
<section class="card">
  % if rows:
  <table class="table compact">
    <thead><tr><th>Cuándo</th><th>Quién</th><th>Acción</th><th>Objeto</th><th>Detalle</th></tr></thead>
    <tbody>
    % for r in rows:
      <tr>
        <td data-label="Cuándo" class="nowrap">{{when(r.at)}}</td>
        <td data-label="Quién">{{r.actor}}</td>
        <td data-label="Acción" class="mono">{{r.action}}</td>
        <td data-label="Objeto" class="mono">{{r.target or ''}}</td>
        <td data-label="Detalle" class="clip mono small">{{r.details or ''}}</td>
      </tr>
    % end
    </tbody>
  </table>
  % include('_pager', link=lambda n: url('/admin/audit', pagina=n))
  % else:
  <p class="empty">Sin registros todavía.</p>
  % end
</section>
