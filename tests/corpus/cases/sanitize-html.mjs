// sanitize-html (CommonJS; htmlparser2 and postcss inside): default and
// custom allowlists.
import sanitizeHtml from 'sanitize-html';

const dirty = '<p onclick="x()">Hello <b>there</b><script>alert(1)</script><img src="javascript:alert(1)"><a href="https://example.com" target="_blank">link</a><span style="color: red; position: fixed">s</span></p>';

export default {
  defaults: sanitizeHtml(dirty),
  custom: sanitizeHtml(dirty, {
    allowedTags: ['p', 'a', 'span'],
    allowedAttributes: { a: ['href'], span: ['style'] },
    allowedStyles: { span: { color: [/^red$/] } },
  }),
  textOnly: sanitizeHtml(dirty, { allowedTags: [], allowedAttributes: {} }),
};
