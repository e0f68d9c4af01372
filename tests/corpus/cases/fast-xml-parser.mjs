// fast-xml-parser: validate, parse with attributes, build back.
import { XMLBuilder, XMLParser, XMLValidator } from 'fast-xml-parser';

const xml = '<?xml version="1.0"?><catalog><book id="b1" lang="en"><title>SICP</title><price>42.5</price></book><book id="b2"><title>TAOCP &amp; more</title><price>199</price></book></catalog>';
const parser = new XMLParser({ ignoreAttributes: false, attributeNamePrefix: '@_' });
const parsed = parser.parse(xml);
const builder = new XMLBuilder({ ignoreAttributes: false, attributeNamePrefix: '@_', format: true });

export default {
  valid: XMLValidator.validate(xml),
  invalid: XMLValidator.validate('<a><b></a>'),
  parsed,
  built: builder.build({ note: { '@_to': 'Ada', body: 'Hello & welcome' } }),
};
