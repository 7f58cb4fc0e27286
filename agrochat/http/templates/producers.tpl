% rebase('base')
<div class="page-head with-action">
  <h1>Productores</h1>
  <a class="button" href="{{url('/admin/exports/producers.csv', estado=state)}}" download>Exportar CSV</a>
</div>

<section class="card">
  <form method="get" action="/admin/producers" class="filters">
    <div class="grow">
      <label for="q">Buscar</label>
      <input id="q" name="q" type="search" value="{{query}}" placeholder="Teléfono, nombre, cultivo o distrito" maxlength="100">
    </div>
    <div>
      <label for="estado">Estado</label>
      <select id="estado" name="estado">
        <option value="">Todos</option>
        % for key, label in producer_status.items():
        <option value="{{key}}" {{'selected' if key == state else ''}}>{{label}}</option>
        % end
      </select>
    </div>
    <div class="check">
      <input id="atencion" name="atencion" type="checkbox" value="1" {{'checked' if flagged else ''}}>
      <label for="atencion">Solo los que esperan a una persona</label>
    </div>
    <div><button type="submit">Filtrar</button></div>
  </form>

  % if rows:
  <table class="table">
    <thead>
      <tr><th>Productor</th><th>Teléfono</th><th>Cultivo</th><th>Distrito</th><th>Estado</th><th>Último mensaje</th></tr>
    </thead>
    <tbody>
    % for p in rows:
      <tr class="{{'row-flag' if p.needs_human else ''}}">
        <td data-label="Productor">
          <a href="/admin/producers/{{p.id}}">{{p.name or 'Sin nombre'}}</a>
          % if p.needs_human:
          <span class="badge badge-warn">espera a una persona</span>
          % end
        </td>
        <td data-label="Teléfono" class="mono">{{phone_label(p.phone)}}</td>
        <td data-label="Cultivo">{{p.cultivo or '—'}}</td>
        <td data-label="Distrito">{{p.distrito or '—'}}</td>
        <td data-label="Estado"><span class="badge status-{{p.status}}">{{producer_status.get(p.status, p.status)}}</span></td>
        <td data-label="Último mensaje">{{when(p.last_inbound_at)}}</td>
      </tr>
    % end
    </tbody>
  </table>
  % include('_pager', link=lambda n: url('/admin/producers', q=query, estado=state, atencion='1' if flagged else None, pagina=n))
  % else:
  <p class="empty">
    % if query or state or flagged:
    Ningún productor coincide con la búsqueda.
    % else:
    Aún no hay productores: se registran solos al escribir por WhatsApp, o agrégalos abajo.
    % end
  </p>
  % end
</section>

<section class="card">
  <h2>Agregar productor</h2>
  <form method="post" action="/admin/producers" class="inline-form">
    <input type="hidden" name="csrf" value="{{csrf}}">
    <div class="grow">
      <label for="telefono">Teléfono con código de país</label>
      <input id="telefono" name="telefono" value="{{new_phone}}" placeholder="51987654321" maxlength="64" inputmode="tel" required
             class="{{'invalid' if errors.get('telefono') else ''}}">
      % include('_field_error', name='telefono')
    </div>
    <div><button type="submit">Agregar</button></div>
  </form>
  <p class="muted small">El perfil se completa luego en su ficha, o en la conversación.</p>
</section>
