% if pager.total > pager.size:
<nav class="pager" aria-label="Páginas">
  <span class="muted">{{pager.first}}–{{pager.last}} de {{pager.total}}</span>
  % if pager.page > 1:
  <a href="{{link(pager.page - 1)}}">← Anterior</a>
  % end
  <span>Página {{pager.page}} de {{pager.pages}}</span>
  % if pager.page < pager.pages:
  <a href="{{link(pager.page + 1)}}">Siguiente →</a>
  % end
</nav>
% elif pager.total:
<p class="muted small">{{pager.total}} en total</p>
% end
