// handlebars (CommonJS): compile with helpers, partials, each/if, escaping.
import Handlebars from 'handlebars';

const hb = Handlebars.create();
hb.registerHelper('upper', (text) => String(text).toUpperCase());
hb.registerPartial('item', '<li>{{upper name}}{{#if price}} ({{price}}){{/if}}</li>');
const template = hb.compile('<h1>{{title}}</h1><ul>{{#each items}}{{> item}}{{/each}}</ul>{{{raw}}} {{escaped}}');

export default template({
  title: 'Menu',
  items: [{ name: 'tea', price: 2 }, { name: 'water' }],
  raw: '<b>bold</b>',
  escaped: '<i>&</i>',
});
