// The demo page's entry: reads where the API is and who the demo users are, then renders.
import './style.css';
import { createRoot } from 'react-dom/client';
import { App, type DemoConfig } from './app.tsx';

const config = (await (await fetch('/api/config')).json()) as DemoConfig;
createRoot(document.getElementById('root') as HTMLElement).render(<App config={config} />);
