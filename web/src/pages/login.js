import { useState } from 'preact/hooks';
import { html } from '../util.js';
import { login } from '../api.js';
import { ErrorBox } from '../components.js';

export function LoginPage() {
  const [email, setEmail] = useState('');
  const [password, setPassword] = useState('');
  const [error, setError] = useState(null);
  const [busy, setBusy] = useState(false);
  const submit = async (e) => {
    e.preventDefault();
    setBusy(true);
    setError(null);
    try {
      await login(email.trim(), password);
    } catch (err) {
      setError(err);
    } finally {
      setBusy(false);
    }
  };
  return html`<main class="login">
    <form onSubmit=${submit} aria-label="Log in" data-testid="login-form">
      <h1>Peregrine</h1>
      <p class="muted">Sensor fleet monitoring</p>
      <label class="field"><span class="label">Email</span>
        <input type="email" name="email" autocomplete="username" required value=${email}
          onInput=${(e) => setEmail(e.target.value)} autofocus /></label>
      <label class="field"><span class="label">Password</span>
        <input type="password" name="password" autocomplete="current-password" required value=${password}
          onInput=${(e) => setPassword(e.target.value)} /></label>
      <${ErrorBox} error=${error} label="Login failed" />
      <button type="submit" class="primary" disabled=${busy}>${busy ? 'Logging in…' : 'Log in'}</button>
    </form>
  </main>`;
}
