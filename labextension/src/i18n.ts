/**
 * The translation domain of ltt-ext's strings: its Python package, where a language pack
 * (or `jupyterlab-translate`) would put `ltt_ext` catalogues.
 */
export const TRANSLATION_DOMAIN = 'ltt_ext';
