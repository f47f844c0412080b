// Messages of the browser app owned by the panel part; see i18n.js for the rules
// (keys start with "panel.", English is the reference, every language complete).

export default {
  en: {
    'panel.unlock.password': 'Password',
    'panel.unlock.passwordFor': 'Password for {title}',
    'panel.unlock.show': 'Show',
    'panel.unlock.hide': 'Hide',
    'panel.unlock.submit': 'Unlock',
    'panel.unlock.empty': 'Enter the password.',
    'panel.form.cancel': 'Cancel',
    'panel.discard.question': 'Discard your changes?',
    'panel.discard.keep': 'Keep editing',
    'panel.discard.confirm': 'Discard changes',
    'panel.generated.copy': 'Copy password',
    'panel.generated.stored': 'I have stored this password somewhere else',
    'panel.generated.copied': 'Copied. Store it in your password manager now.',
    'panel.generated.copyBlocked': 'Copying is blocked here. The password is selected: press Ctrl+C (⌘C on a Mac) to copy it.',
    'panel.generated.confirmFirst': 'The generated password exists nowhere else yet. Store it, then tick “I have stored this password somewhere else”.',
  },
  de: {
    'panel.unlock.password': 'Passwort',
    'panel.unlock.passwordFor': 'Passwort für {title}',
    'panel.unlock.show': 'Anzeigen',
    'panel.unlock.hide': 'Verbergen',
    'panel.unlock.submit': 'Entsperren',
    'panel.unlock.empty': 'Geben Sie das Passwort ein.',
    'panel.form.cancel': 'Abbrechen',
    'panel.discard.question': 'Ihre Änderungen verwerfen?',
    'panel.discard.keep': 'Weiter bearbeiten',
    'panel.discard.confirm': 'Änderungen verwerfen',
    'panel.generated.copy': 'Passwort kopieren',
    'panel.generated.stored': 'Ich habe dieses Passwort an anderer Stelle gespeichert',
    'panel.generated.copied': 'Kopiert. Speichern Sie es jetzt in Ihrem Passwort-Manager.',
    'panel.generated.copyBlocked': 'Kopieren ist hier blockiert. Das Passwort ist markiert: Drücken Sie Strg+C (⌘C auf dem Mac).',
    'panel.generated.confirmFirst': 'Das erzeugte Passwort ist noch nirgends gespeichert. Speichern Sie es und setzen Sie dann das Häkchen bei „Ich habe dieses Passwort an anderer Stelle gespeichert“.',
  },
};
