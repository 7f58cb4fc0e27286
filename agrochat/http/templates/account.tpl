% rebase('base')
<div class="page-head">
  <h1>Mi cuenta</h1>
  <p class="muted">Conectado como <strong>{{admin}}</strong>.</p>
</div>
<section class="card form-card">
  <h2>Cambiar contraseña</h2>
  <form method="post" action="/admin/account" class="stack" novalidate>
    <input type="hidden" name="csrf" value="{{csrf}}">
    <label for="actual">Contraseña actual</label>
    <input id="actual" name="actual" type="password" autocomplete="current-password" class="{{'invalid' if errors.get('actual') else ''}}">
    % include('_field_error', name='actual')
    <label for="nueva">Nueva contraseña</label>
    <input id="nueva" name="nueva" type="password" autocomplete="new-password" class="{{'invalid' if errors.get('nueva') else ''}}">
    % include('_field_error', name='nueva')
    <label for="repetir">Repite la nueva contraseña</label>
    <input id="repetir" name="repetir" type="password" autocomplete="new-password" class="{{'invalid' if errors.get('repetir') else ''}}">
    % include('_field_error', name='repetir')
    <div class="actions"><button type="submit" class="primary">Cambiar contraseña</button></div>
  </form>
  <p class="muted small">Al cambiarla se cierran tus demás sesiones abiertas.</p>
</section>
