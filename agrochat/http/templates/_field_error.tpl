% if errors.get(name):
<p class="field-error" id="err-{{name}}">{{errors[name]}}</p>
% end
