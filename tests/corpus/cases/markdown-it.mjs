// markdown-it (CommonJS deps: entities, linkify-it, punycode.js): render
// with linkify and typographer.
import MarkdownIt from 'markdown-it';

const md = new MarkdownIt({ linkify: true, typographer: true });

export default {
  html: md.render('# Hi\n\n"Quotes" -- and (c) www.example.com\n\n1. one\n2. two\n\n> quoted\n'),
  inline: md.renderInline('__strong__ and <script>'),
  tokens: md.parse('*a* b', {}).map((token) => token.type),
};
