// Messages of the browser app owned by the common part; see i18n.js for the rules
// (keys start with "common.", English is the reference, every language complete).

export default {
  en: {},
  de: {},
};
