// ejs: render a template string with includes turned off, escaping, loops.
import ejs from 'ejs';

const template = '<ul><% items.forEach(function (item) { %><li><%= item.name %><% if (item.tag) { %> <%- item.tag %><% } %></li><% }) %></ul>';

export default {
  html: ejs.render(template, { items: [{ name: '<tea>', tag: '<b>new</b>' }, { name: 'water' }] }),
  compiled: ejs.compile('<%= a + b %>')({ a: 1, b: 2 }),
};
