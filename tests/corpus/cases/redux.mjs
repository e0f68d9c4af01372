// redux: a store with combined reducers, middleware, subscriptions.
import { legacy_createStore as createStore, combineReducers, applyMiddleware } from 'redux';

const counter = (state = 0, action) => (action.type === 'inc' ? state + (action.by ?? 1) : state);
const log = (state = [], action) => (action.type.startsWith('@@') ? state : [...state, action.type]);
const seen = [];
const logger = () => (next) => (action) => {
  seen.push(action.type);
  return next(action);
};
const store = createStore(combineReducers({ counter, log }), applyMiddleware(logger));
let notified = 0;
const unsubscribe = store.subscribe(() => {
  notified += 1;
});
store.dispatch({ type: 'inc' });
store.dispatch({ type: 'inc', by: 5 });
unsubscribe();
store.dispatch({ type: 'noop' });

export default { state: store.getState(), seen, notified };
