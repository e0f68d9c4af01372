// immer: produce with structural sharing, frozen results, patches.
import { produce, produceWithPatches, enablePatches, isDraft, current } from 'immer';

enablePatches();

const base = { todos: [{ id: 1, done: false, text: 'write' }, { id: 2, done: false, text: 'test' }], meta: { count: 2 } };
let seenDraft = false;
const next = produce(base, (draft) => {
  draft.todos[0].done = true;
  draft.todos.push({ id: 3, done: false, text: 'ship' });
  draft.meta.count = current(draft).todos.length;
  seenDraft = isDraft(draft);
});
const [, patches, inverse] = produceWithPatches(base, (draft) => {
  draft.meta.count += 1;
  delete draft.todos[1];
});

export default {
  next,
  base,
  shared: next.todos[1] === base.todos[1],
  frozen: Object.isFrozen(next),
  seenDraft,
  patches,
  inverse,
};
