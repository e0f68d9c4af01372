// marked: GitHub-flavoured markdown to HTML, the lexer's tokens.
import { marked } from 'marked';

const source = '# Title\n\nSome *emphasis*, `code` and a [link](https://example.com).\n\n| a | b |\n|---|---|\n| 1 | 2 |\n\n- [x] done\n- [ ] todo\n\n```js\nconst x = 1;\n```\n';

export default {
  html: marked.parse(source, { gfm: true }),
  tokens: marked.lexer(source).map((token) => token.type),
  inline: marked.parseInline('**bold** ~~gone~~'),
};
