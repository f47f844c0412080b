// Messages of the browser app owned by the panel part; see i18n.js for the rules
// (keys start with "panel.", English is the reference, every language complete).

export default {
  en: {},
  de: {},
};
