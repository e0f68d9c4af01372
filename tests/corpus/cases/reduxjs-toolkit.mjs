// @reduxjs/toolkit: configureStore, createSlice (immer inside), an entity
// adapter, an async thunk, a selector.
import { configureStore, createSlice, createEntityAdapter, createAsyncThunk, createSelector } from '@reduxjs/toolkit';

const books = createEntityAdapter({ sortComparer: (a, b) => a.title.localeCompare(b.title) });
const load = createAsyncThunk('books/load', async (titles) => titles.map((title, i) => ({ id: i + 1, title })));
const slice = createSlice({
  name: 'books',
  initialState: books.getInitialState({ status: 'idle' }),
  reducers: {
    rename(state, action) {
      books.updateOne(state, { id: action.payload.id, changes: { title: action.payload.title } });
    },
  },
  extraReducers: (builder) => {
    builder.addCase(load.pending, (state) => {
      state.status = 'loading';
    });
    builder.addCase(load.fulfilled, (state, action) => {
      state.status = 'done';
      books.setAll(state, action.payload);
    });
  },
});
const store = configureStore({ reducer: { books: slice.reducer } });
await store.dispatch(load(['SICP', 'TAOCP', 'Dragon Book']));
store.dispatch(slice.actions.rename({ id: 2, title: 'AOCP' }));
const selectors = books.getSelectors((state) => state.books);
const selectTitles = createSelector([selectors.selectAll], (all) => all.map((book) => book.title));

export default { status: store.getState().books.status, titles: selectTitles(store.getState()), total: selectors.selectTotal(store.getState()), action: slice.actions.rename({ id: 1, title: 'x' }) };
