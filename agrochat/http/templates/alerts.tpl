% rebase('base')
<div class="page-head with-action">
  <h1>Alertas</h1>
  <div class="head-actions">
    <a class="button" href="{{url('/admin/exports/alerts.csv', estado=state)}}" download>Exportar CSV</a>
    <a class="button primary" href="/admin/alerts/new">Nueva alerta</a>
  </div>
</div>

<nav class="tabs" aria-label="Filtrar por estado">
  <a href="/admin/alerts" class="{{'active' if not state else ''}}">Todas <span class="count">{{sum(counts.values())}}</span></a>
  % for s in statuses:
  <a href="{{url('/admin/alerts', estado=s)}}" class="{{'active' if s == state else ''}}">{{alert_status[s]}} <span class="count">{{counts.get(s, 0)}}</span></a>
  % end
</nav>

<section class="card">
  % if rows:
  % include('_alert_rows', rows=rows, names=names, back=url('/admin/alerts', estado=state, pagina=pager.page if pager.page > 1 else None), show_target=True)
  % include('_pager', link=lambda n: url('/admin/alerts', estado=state, pagina=n))
  % else:
  <p class="empty">No hay alertas{{' en este estado' if state else ''}}.</p>
  % end
</section>
