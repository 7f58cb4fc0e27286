% rebase('base')
<section class="card login">
  <h1 class="brand-big">agrochat<span>panel</span></h1>
  <p class="muted">Administración del asesor agrícola por WhatsApp.</p>
  % if error:
  <div class="notice bad" role="alert">{{error}}</div>
  % end
  <form method="post" action="/admin/login" class="stack">
    <input type="hidden" name="csrf" value="{{login_csrf}}">
    % if next_path:
    <input type="hidden" name="next" value="{{next_path}}">
    % end
    <label for="usuario">Usuario</label>
    <input id="usuario" name="usuario" value="{{username}}" autocomplete="username" maxlength="64" required autofocus>
    <label for="clave">Contraseña</label>
    <input id="clave" name="clave" type="password" autocomplete="current-password" required>
    <button type="submit" class="primary">Entrar</button>
  </form>
  <p class="muted small">Las cuentas se crean con <code>agrochat admin add USUARIO</code>.</p>
</section>
