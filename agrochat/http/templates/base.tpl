<!DOCTYPE html>
<html lang="es">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<meta name="robots" content="noindex">
% if get('refresh'):
<meta http-equiv="refresh" content="{{refresh}}">
% end
<title>{{title}} · agrochat</title>
<link rel="stylesheet" href="/admin/static/admin.css">
</head>
<body>
% if admin:
<header class="topbar">
  <a class="brand" href="/admin">agrochat<span>panel</span></a>
  <nav class="mainnav">
  % for key, label, href in (("dashboard", "Resumen", "/admin"), ("producers", "Productores", "/admin/producers"), ("alerts", "Alertas", "/admin/alerts"), ("knowledge", "Conocimiento", "/admin/knowledge"), ("whatsapp", "WhatsApp", "/admin/whatsapp"), ("audit", "Auditoría", "/admin/audit")):
    <a href="{{href}}" class="{{'active' if nav == key else ''}}">{{label}}</a>
  % end
    <a href="/admin/review" class="{{'active' if nav == 'review' else ''}}">Revisar</a>
    <a href="/admin/system" class="{{'active' if nav == 'system' else ''}}">Sistema</a>
  </nav>
  <div class="user">
    <a href="/admin/account" class="{{'active' if nav == 'account' else ''}}" title="Mi cuenta">{{admin}}</a>
    <form method="post" action="/admin/logout" class="inline">
      <input type="hidden" name="csrf" value="{{csrf}}">
      <button type="submit" class="linkish">Salir</button>
    </form>
  </div>
</header>
% end
<main class="{{'' if admin else 'narrow'}}">
% if notice:
  <div class="notice ok" role="status">{{notice}}</div>
% end
% if problem:
  <div class="notice bad" role="alert">{{problem}}</div>
% end
{{!base}}
</main>
</body>
</html>
