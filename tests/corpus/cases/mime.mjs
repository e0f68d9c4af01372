// mime: types by extension and extensions by type.
import mime from 'mime';

export default {
  types: ['txt', 'json', 'html', 'file.png', 'dir/x.tar.gz', 'unknown.zzz'].map((name) => mime.getType(name)),
  extension: [mime.getExtension('text/html'), mime.getExtension('application/json; charset=utf-8')],
  all: [...mime.getAllExtensions('image/jpeg')].sort(),
};
