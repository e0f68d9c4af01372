// nunjucks (CommonJS): an environment without loaders, filters, macros,
// inheritance through a string loader.
import nunjucks from 'nunjucks';

const templates = {
  'base.njk': '<title>{% block title %}base{% endblock %}</title>{% block body %}{% endblock %}',
  'page.njk': '{% extends "base.njk" %}{% block title %}{{ title | title }}{% endblock %}{% block body %}{% for x in items %}[{{ loop.index }}:{{ x | upper }}]{% endfor %}{% endblock %}',
};
const StringLoader = nunjucks.Loader.extend({
  getSource(name) {
    return { src: templates[name], path: name, noCache: true };
  },
});
const env = new nunjucks.Environment(new StringLoader(), { autoescape: true });
env.addFilter('shout', (text) => `${text}!`);

export default {
  page: env.render('page.njk', { title: 'hello world', items: ['a', 'b'] }),
  string: env.renderString('{% macro greet(n) %}hi {{ n | shout }}{% endmacro %}{{ greet("<ada>") }}', {}),
};
