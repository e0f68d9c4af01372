// cheerio: load a document, select, read, change, serialize.
import * as cheerio from 'cheerio';

const $ = cheerio.load('<ul id="fruits"><li class="apple">Apple</li><li class="orange">Orange</li><li class="pear">Pear</li></ul><a href="/x" title="t">link</a>');
$('li.pear').addClass('ripe').attr('data-n', '3');
$('ul').append('<li class="plum">Plum</li>');

export default {
  texts: $('li').map((_, el) => $(el).text()).get(),
  second: $('#fruits li').eq(1).attr('class'),
  link: { href: $('a').attr('href'), title: $('a').prop('title') },
  extracted: $.extract({ items: ['li'], link: { selector: 'a', value: 'href' } }),
  html: $('ul').html(),
};
