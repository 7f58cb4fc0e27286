% rebase('base')
<section class="card error-page">
  <p class="code">{{code}}</p>
  <h1>{{title}}</h1>
  <p>{{message}}</p>
  <p>
  % if admin:
    <a class="button" href="/admin">Volver al resumen</a>
  % else:
    <a class="button" href="/admin/login">Ir al acceso</a>
  % end
  </p>
</section>
