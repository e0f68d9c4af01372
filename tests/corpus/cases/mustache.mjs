// mustache: sections, inverted sections, partials, escaping.
import Mustache from 'mustache';

export default Mustache.render(
  '{{#people}}{{> person}}{{/people}}{{^nobody}}(someone){{/nobody}} {{html}} {{{html}}}',
  { people: [{ name: 'Ada', langs: ['en', 'fr'] }, { name: 'Grace', langs: [] }], html: '<b>' },
  { person: '<p>{{name}}: {{#langs}}{{.}} {{/langs}}</p>' },
);
