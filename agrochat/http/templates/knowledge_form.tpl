% rebase('base')
<div class="page-head">
  <p class="crumbs"><a href="/admin/knowledge">Base de conocimiento</a> ›</p>
  <h1>{{title}}</h1>
</div>

% if entry:
<section class="card review">
  % if entry.review_status == 'reviewed':
  <p><span class="badge badge-ok">revisado</span> por {{entry.reviewed_by}} el {{when(entry.reviewed_at)}}.</p>
  % else:
  <p><span class="badge badge-warn">pendiente de revisión</span>
    {{'Viene de la base inicial de agrochat.' if entry.origin == 'seed' else 'Escrito en este panel.'}}
    Compruébalo con su fuente antes de marcarlo como revisado.</p>
  <form method="post" action="/admin/knowledge/{{entry.id}}/review">
    <input type="hidden" name="csrf" value="{{csrf}}">
    <button type="submit" class="primary">Marcar como revisado</button>
  </form>
  % end
  <p class="muted small">Fuente: {{entry.source}}, {{entry.source_year or 's. f.'}}. {{entry.source_title or ''}}
  % if entry.source_url:
    <a href="{{entry.source_url}}" rel="noopener noreferrer">{{entry.source_url}}</a>
  % end
  </p>
</section>
% end

<section class="card form-card">
  % if errors:
  <div class="notice bad" role="alert">No se guardó: corrige los campos marcados.</div>
  % end
  <form method="post" action="{{'/admin/knowledge/%d' % entry_id if entry_id else '/admin/knowledge'}}" class="stack" novalidate>
    <input type="hidden" name="csrf" value="{{csrf}}">
    % if values.get('revision'):
    <input type="hidden" name="revision" value="{{values['revision']}}">
    <p class="muted small">Viene de una pregunta de la cola «Revisar»: al guardarlo, la pregunta sale de la cola.</p>
    % end

    <label for="titulo">Título</label>
    <input id="titulo" name="titulo" value="{{values.get('titulo', '')}}" maxlength="200" class="{{'invalid' if errors.get('titulo') else ''}}">
    % include('_field_error', name='titulo')

    <label for="respuesta">Respuesta para el productor</label>
    <textarea id="respuesta" name="respuesta" rows="4" maxlength="420" class="{{'invalid' if errors.get('respuesta') else ''}}">{{values.get('respuesta', '')}}</textarea>
    <p class="muted small">Lo que el productor lee en WhatsApp: hasta tres oraciones, y solo datos que estén en la fuente.</p>
    % include('_field_error', name='respuesta')

    <label for="texto">Detalle</label>
    <textarea id="texto" name="texto" rows="8" maxlength="4000" class="{{'invalid' if errors.get('texto') else ''}}">{{values.get('texto', '')}}</textarea>
    <p class="muted small">Para quien revisa: los mismos datos con más detalle y sus condiciones.</p>
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

    <fieldset>
      <legend>Fuente</legend>
      <div class="grid-2">
        <div>
          <label for="fuente">Quién publica</label>
          <input id="fuente" name="fuente" value="{{values.get('fuente', '')}}" maxlength="200" placeholder="INIA, FAO, SENASA…" class="{{'invalid' if errors.get('fuente') else ''}}">
          % include('_field_error', name='fuente')
        </div>
        <div>
          <label for="fuente_anio">Año</label>
          <input id="fuente_anio" name="fuente_anio" value="{{values.get('fuente_anio', '')}}" maxlength="4" inputmode="numeric" placeholder="vacío: sin fecha" class="{{'invalid' if errors.get('fuente_anio') else ''}}">
          % include('_field_error', name='fuente_anio')
        </div>
      </div>
      <label for="fuente_titulo">Título de la publicación</label>
      <input id="fuente_titulo" name="fuente_titulo" value="{{values.get('fuente_titulo', '')}}" maxlength="400" class="{{'invalid' if errors.get('fuente_titulo') else ''}}">
      % include('_field_error', name='fuente_titulo')
      <label for="fuente_url">Dirección</label>
      <input id="fuente_url" name="fuente_url" value="{{values.get('fuente_url', '')}}" maxlength="500" placeholder="https://…" class="{{'invalid' if errors.get('fuente_url') else ''}}">
      % include('_field_error', name='fuente_url')
    </fieldset>

    <div class="actions">
      <button type="submit" class="primary">Guardar</button>
      <a href="/admin/knowledge">Cancelar</a>
    </div>
  </form>
  % if entry_id:
  <form method="post" action="/admin/knowledge/{{entry_id}}/delete" class="delete-form">
    <input type="hidden" name="csrf" value="{{csrf}}">
    <button type="submit" class="danger">Retirar este consejo</button>
  </form>
  % end
</section>
