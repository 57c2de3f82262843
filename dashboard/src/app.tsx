// Routes. Every route has an errorElement, so a crashing screen shows an error inside the frame
// (navigation still works) instead of a blank page.
import { createBrowserRouter, Navigate, RouterProvider } from 'react-router';
import { RootErrorBoundary, RouteError } from './components/error-boundary.tsx';
import { SessionProvider } from './lib/session.tsx';
import { ApiKeysPage } from './routes/api-keys/api-keys.tsx';
import { InvitationPage } from './routes/auth/invitation.tsx';
import { LoginPage } from './routes/auth/login.tsx';
import { SignUpPage } from './routes/auth/signup.tsx';
import { HomeRedirect } from './routes/home.tsx';
import { MembersPage } from './routes/members/members.tsx';
import { NotFoundPage } from './routes/not-found.tsx';
import { NotificationDetailPage } from './routes/notifications/notification-detail.tsx';
import { NotificationsPage } from './routes/notifications/notifications.tsx';
import { ProjectLayout } from './routes/projects/project-layout.tsx';
import { ProjectsPage } from './routes/projects/projects.tsx';
import { RecipientDetailPage } from './routes/recipients/recipient-detail.tsx';
import { RecipientsPage } from './routes/recipients/recipients.tsx';
import { RequireAuth } from './routes/require-auth.tsx';
import { SettingsPage } from './routes/settings/settings.tsx';
import { NEW_TEMPLATE_PATH } from './routes/templates/documents.ts';
import { TemplateEditorPage } from './routes/templates/template-editor.tsx';
import { TemplatesPage } from './routes/templates/templates.tsx';
import { DeliveriesPage } from './routes/webhooks/deliveries.tsx';
import { DeliveryDetailPage } from './routes/webhooks/delivery-detail.tsx';
import { EndpointDetailPage } from './routes/webhooks/endpoint-detail.tsx';
import { WebhooksPage } from './routes/webhooks/webhooks.tsx';

const errorElement = <RouteError />;

const router = createBrowserRouter([
  {
    errorElement,
    children: [
      { path: '/login', element: <LoginPage />, errorElement },
      { path: '/signup', element: <SignUpPage />, errorElement },
      { path: '/invitations/:token', element: <InvitationPage />, errorElement },
      {
        element: <RequireAuth />,
        errorElement,
        children: [
          { path: '/', element: <HomeRedirect />, errorElement },
          { path: '/projects', element: <ProjectsPage />, errorElement },
          { path: '/projects/:projectId', element: <Navigate to="development" replace />, errorElement },
          {
            path: '/projects/:projectId/:env',
            element: <ProjectLayout />,
            errorElement,
            children: [
              { index: true, element: <Navigate to="notifications" replace />, errorElement },
              { path: 'notifications', element: <NotificationsPage />, errorElement },
              { path: 'notifications/:id', element: <NotificationDetailPage />, errorElement },
              { path: 'recipients', element: <RecipientsPage />, errorElement },
              { path: 'recipients/:externalId', element: <RecipientDetailPage />, errorElement },
              { path: 'templates', element: <TemplatesPage />, errorElement },
              { path: NEW_TEMPLATE_PATH, element: <TemplateEditorPage />, errorElement },
              { path: 'templates/:key', element: <TemplateEditorPage />, errorElement },
              { path: 'webhooks', element: <WebhooksPage />, errorElement },
              { path: 'webhooks/endpoints/:id', element: <EndpointDetailPage />, errorElement },
              { path: 'webhooks/deliveries', element: <DeliveriesPage />, errorElement },
              { path: 'webhooks/deliveries/:id', element: <DeliveryDetailPage />, errorElement },
              { path: 'api-keys', element: <ApiKeysPage />, errorElement },
              { path: 'members', element: <MembersPage />, errorElement },
              { path: 'settings', element: <SettingsPage />, errorElement },
              { path: '*', element: <NotFoundPage />, errorElement },
            ],
          },
        ],
      },
      { path: '*', element: <NotFoundPage />, errorElement },
    ],
  },
]);

export function App() {
  return (
    <RootErrorBoundary>
      <SessionProvider>
        <RouterProvider router={router} />
      </SessionProvider>
    </RootErrorBoundary>
  );
}
