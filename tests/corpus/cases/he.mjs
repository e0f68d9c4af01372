// he (CommonJS): HTML entities both ways.
import he from 'he';

export default {
  encoded: he.encode('foo © bar ≠ baz 𝌆 qux <&>'),
  named: he.encode('foo © bar', { useNamedReferences: true }),
  decoded: he.decode('foo &copy; bar &ne; baz &#x1D306; qux &lt;&amp;&gt; &amp'),
  escaped: he.escape('<img src=\'x\'>'),
};
