% rebase('base')
<div class="page-head">
  <p class="crumbs"><a href="/admin/knowledge">Base de conocimiento</a> ›</p>
  <h1>{{title}}</h1>
</div>

<section class="card form-card">
  % if errors:
  <div class="notice bad" role="alert">No se guardó: corrige los campos marcados.</div>
  % end
  <form method="post" action="{{'/admin/knowledge/%d' % entry_id if entry_id else '/admin/knowledge'}}" class="stack" novalidate>
    <input type="hidden" name="csrf" value="{{csrf}}">

    <label for="titulo">Título</label>
    <input id="titulo" name="titulo" value="{{values.get('titulo', '')}}" maxlength="200" class="{{'invalid' if errors.get('titulo') else ''}}">
    % include('_field_error', name='titulo')

    <label for="texto">Consejo</label>
    <textarea id="texto" name="texto" rows="8" maxlength="4000" class="{{'invalid' if errors.get('texto') else ''}}">{{values.get('texto', '')}}</textarea>
    <p class="muted small">Escrito para el productor: claro, concreto y sin cifras que no estén verificadas.</p>
    % include('_field_error', name='texto')

    <div class="grid-2">
      <div>
        <label for="cultivo">Cultivo</label>
        <input id="cultivo" name="cultivo" value="{{values.get('cultivo', '')}}" list="cultivos" maxlength="64" placeholder="vacío: todos los cultivos" class="{{'invalid' if errors.get('cultivo') else ''}}">
        <datalist id="cultivos">
          % for c in crops:
          <option value="{{c}}">
          % end
        </datalist>
        % include('_field_error', name='cultivo')
      </div>
      <div>
        <label for="tema">Tema</label>
        <select id="tema" name="tema" class="{{'invalid' if errors.get('tema') else ''}}">
          <option value="">— sin tema —</option>
          % for t in topics:
          <option value="{{t}}" {{'selected' if values.get('tema') == t else ''}}>{{t}}</option>
          % end
        </select>
        % include('_field_error', name='tema')
      </div>
    </div>

    <label for="palabras">Palabras clave</label>
    <input id="palabras" name="palabras" value="{{values.get('palabras', '')}}" maxlength="1000" placeholder="riego regar agua humedad" class="{{'invalid' if errors.get('palabras') else ''}}">
    <p class="muted small">Palabras que usan los productores al preguntar; ayudan a encontrar este consejo.</p>
    % include('_field_error', name='palabras')

    <label for="fuente">Fuente</label>
    <input id="fuente" name="fuente" value="{{values.get('fuente', '')}}" maxlength="200" placeholder="INIA, manual técnico…" class="{{'invalid' if errors.get('fuente') else ''}}">
    % include('_field_error', name='fuente')

    <div class="actions">
      <button type="submit" class="primary">Guardar</button>
      <a href="/admin/knowledge">Cancelar</a>
    </div>
  </form>
  % if entry_id:
  <form method="post" action="/admin/knowledge/{{entry_id}}/delete" class="delete-form">
    <input type="hidden" name="csrf" value="{{csrf}}">
    <button type="submit" class="danger">Eliminar este consejo</button>
  </form>
  % end
</section>
