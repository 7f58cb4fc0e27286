% rebase('base')
<div class="page-head">
  <p class="crumbs"><a href="/admin/alerts">Alertas</a> ›</p>
  <h1>Nueva alerta</h1>
</div>

<section class="card form-card">
  % if errors:
  <div class="notice bad" role="alert">No se creó ninguna alerta: corrige los campos marcados.</div>
  % end
  <form method="post" action="/admin/alerts" class="stack" novalidate>
    <input type="hidden" name="csrf" value="{{csrf}}">

    <fieldset>
      <legend>Para quién</legend>
      % for t in targets:
      <label class="radio">
        <input type="radio" name="destino" value="{{t}}" {{'checked' if values.get('destino') == t else ''}}>
        {{target_labels[t]}}
      </label>
      % end
      % include('_field_error', name='destino')
      <div class="grid-3">
        <div>
          <label for="telefono">Teléfono</label>
          <input id="telefono" name="telefono" value="{{values.get('telefono', '')}}" placeholder="51987654321" maxlength="64" inputmode="tel" class="{{'invalid' if errors.get('telefono') else ''}}">
          % include('_field_error', name='telefono')
        </div>
        <div>
          <label for="cultivo">Cultivo</label>
          <input id="cultivo" name="cultivo" value="{{values.get('cultivo', '')}}" list="cultivos" maxlength="100" class="{{'invalid' if errors.get('cultivo') else ''}}">
          <datalist id="cultivos">
            % for c in crops:
            <option value="{{c}}">
            % end
          </datalist>
          % include('_field_error', name='cultivo')
        </div>
        <div>
          <label for="distrito">Distrito</label>
          <input id="distrito" name="distrito" value="{{values.get('distrito', '')}}" maxlength="100" class="{{'invalid' if errors.get('distrito') else ''}}">
          % include('_field_error', name='distrito')
        </div>
      </div>
      <p class="muted small">Rellena solo el dato del destino elegido.</p>
    </fieldset>

    <label for="nivel">Nivel</label>
    <select id="nivel" name="nivel" class="{{'invalid' if errors.get('nivel') else ''}}">
      % for level in levels:
      <option value="{{level}}" {{'selected' if values.get('nivel', 'media') == level else ''}}>{{level}}</option>
      % end
    </select>
    % include('_field_error', name='nivel')

    <label for="mensaje">Mensaje</label>
    <textarea id="mensaje" name="mensaje" rows="4" maxlength="1000" placeholder="Alerta: posible helada esta noche. Riega ligero por la tarde." class="{{'invalid' if errors.get('mensaje') else ''}}">{{values.get('mensaje', '')}}</textarea>
    % include('_field_error', name='mensaje')

    <label for="programada">Enviar el (opcional)</label>
    <input id="programada" name="programada" type="datetime-local" value="{{values.get('programada', '')}}" class="{{'invalid' if errors.get('programada') else ''}}">
    <p class="muted small">Hora de {{timezone}}. Vacío: se envía ya. Una alerta vence 48 h después de su hora.</p>
    % include('_field_error', name='programada')

    <div class="actions">
      <button type="submit" class="primary">Crear alerta</button>
      <a href="/admin/alerts">Cancelar</a>
    </div>
  </form>
</section>
