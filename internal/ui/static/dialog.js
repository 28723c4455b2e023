// Modal dialogs on <dialog>: showModal() keeps keyboard focus inside, Escape cancels, and focus
// returns to where it was when the dialog closes.

import { h } from './dom.js';

let seq = 0;

// ask shows a confirmation dialog and resolves to the values of its fields ({} when it has none)
// when confirmed, or null when cancelled.
//   title, message: what is asked; confirm: the label of the confirming button; danger: style it
//   as destructive and put the focus on the dismissing button (labelled dismiss); fields: [{name, label, type: 'text' | 'textarea' |
//   'datetime-local' | 'checkbox', value, hint}].
export function ask({ title, message, confirm, dismiss = 'Cancel', danger = false, fields = [] }) {
  const id = `dlg-${++seq}`;
  const opener = document.activeElement;
  const inputs = {};
  const fieldEls = fields.map((f) => {
    const fid = `${id}-${f.name}`;
    const hintId = f.hint ? `${fid}-hint` : undefined;
    let input;
    if (f.type === 'textarea') {
      input = h('textarea', { id: fid, name: f.name, rows: 3, 'aria-describedby': hintId });
      input.value = f.value || '';
    } else if (f.type === 'checkbox') {
      input = h('input', { id: fid, name: f.name, type: 'checkbox', checked: f.value, 'aria-describedby': hintId });
    } else {
      input = h('input', { id: fid, name: f.name, type: f.type || 'text', value: f.value || '', 'aria-describedby': hintId, autocomplete: 'off' });
    }
    inputs[f.name] = input;
    const hint = f.hint ? h('p', { id: hintId, class: 'hint' }, f.hint) : null;
    return f.type === 'checkbox'
      ? h('div', { class: 'field checkbox' }, input, h('label', { for: fid }, f.label), hint)
      : h('div', { class: 'field' }, h('label', { for: fid }, f.label), input, hint);
  });
  const cancelBtn = h('button', { type: 'submit', value: 'cancel', formnovalidate: true }, dismiss);
  const okBtn = h('button', { type: 'submit', value: 'ok', class: danger ? 'danger' : 'primary' }, confirm);
  const dlg = h('dialog', { 'aria-labelledby': `${id}-title`, 'aria-describedby': `${id}-msg`, class: 'confirm' },
    h('form', { method: 'dialog' },
      h('h2', { id: `${id}-title` }, title),
      h('p', { id: `${id}-msg` }, message),
      fieldEls,
      h('div', { class: 'buttons' }, okBtn, cancelBtn)));
  document.body.append(dlg);
  return new Promise((resolve) => {
    dlg.addEventListener('close', () => {
      const ok = dlg.returnValue === 'ok';
      const values = {};
      for (const [name, input] of Object.entries(inputs)) values[name] = input.type === 'checkbox' ? input.checked : input.value;
      dlg.remove();
      if (opener && opener.isConnected && typeof opener.focus === 'function') opener.focus();
      resolve(ok ? values : null);
    });
    dlg.showModal();
    const first = danger ? cancelBtn : (fieldEls.length ? dlg.querySelector('input, textarea') : okBtn);
    first.focus();
  });
}
