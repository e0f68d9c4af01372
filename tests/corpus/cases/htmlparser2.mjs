// htmlparser2: the callback parser and parseDocument with its DomUtils.
import { Parser, parseDocument, DomUtils } from 'htmlparser2';

const events = [];
const parser = new Parser({
  onopentag(name, attributes) {
    events.push(['open', name, attributes]);
  },
  ontext(text) {
    if (text.trim()) events.push(['text', text]);
  },
  onclosetag(name) {
    events.push(['close', name]);
  },
});
parser.write('<p class="x">Hello <b>world</b></p><script>var a = "<b>";</script>');
parser.end();

const dom = parseDocument('<div><a href="/a">A</a><a href="/b">B</a><p>text &amp; more</p></div>');
const links = DomUtils.getElementsByTagName('a', dom);

export default {
  events,
  hrefs: links.map((link) => DomUtils.getAttributeValue(link, 'href')),
  text: DomUtils.textContent(dom),
  outer: DomUtils.getOuterHTML(links[0]),
};
