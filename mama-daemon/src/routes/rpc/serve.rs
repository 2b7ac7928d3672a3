//! Which use case serves each admin RPC method. The dispatcher is generated from the method
//! table in `mama-api`, so a method declared there without an impl here does not compile.

use std::future::Future;

use mama_core::api::rpc::{method, Done, Method};
use mama_core::ops::auth::AdminSession;
use mama_core::ops::{Ctx, Mama, OpResult};

/// A method any caller may call (signing in): no session.
pub trait ServeAnonymous: Method {
    fn serve<'a>(
        mama: &'a Mama,
        ctx: &'a Ctx,
        params: Self::Params,
    ) -> impl Future<Output = OpResult<Self::Output>> + Send + 'a;
}

/// A method of a signed-in admin; the dispatcher has checked [`Method::CALLER`] already.
pub trait Serve: Method {
    fn serve<'a>(
        mama: &'a Mama,
        ctx: &'a Ctx,
        session: &'a AdminSession,
        params: Self::Params,
    ) -> impl Future<Output = OpResult<Self::Output>> + Send + 'a;
}

impl ServeAnonymous for method::AuthLogin {
    async fn serve(mama: &Mama, ctx: &Ctx, params: Self::Params) -> OpResult<Self::Output> {
        mama.login(ctx, params).await
    }
}

/// `serve!(Method, |mama, ctx, session, params| use_case)`: one impl of [`Serve`].
macro_rules! serve {
    ($($m:ident => |$mama:ident, $ctx:ident, $s:ident, $p:pat_param| $body:expr;)*) => {$(
        impl Serve for method::$m {
            async fn serve(
                $mama: &Mama,
                $ctx: &Ctx,
                $s: &AdminSession,
                $p: Self::Params,
            ) -> OpResult<Self::Output> {
                $body
            }
        }
    )*};
}

serve! {
    AuthRefresh => |mama, ctx, s, _| mama.refresh(ctx, s).await;
    AuthLogout => |mama, ctx, s, _| mama.logout(ctx, s).await.map(|()| Done {});
    AuthChangePassword => |mama, ctx, s, p| mama.change_password(ctx, s, p).await;
    AuthWhoami => |mama, ctx, s, _| mama.whoami(ctx, s).await;
    AdminsList => |mama, ctx, s, _| mama.list_admins(ctx, s).await;
    AdminsCreate => |mama, ctx, s, p| mama.create_admin(ctx, s, p).await;
    AdminsUpdate => |mama, ctx, s, p| mama.update_admin(ctx, s, p).await;
    AdminsDelete => |mama, ctx, s, p| mama.delete_admin(ctx, s, p).await.map(|()| Done {});
    UsersList => |mama, ctx, s, p| mama.list_users(ctx, s, p).await;
    UsersListIds => |mama, ctx, s, p| mama.list_user_ids(ctx, s, p).await;
    UsersCount => |mama, ctx, s, p| mama.count_users(ctx, s, p).await;
    UsersGet => |mama, ctx, s, p| mama.get_users(ctx, s, p).await;
    UsersRevealKey => |mama, ctx, s, p| mama.reveal_key(ctx, s, p).await;
    UsersCreate => |mama, ctx, s, p| mama.create_users(ctx, s, p).await;
    UsersUpdate => |mama, ctx, s, p| mama.update_user(ctx, s, p).await;
    UsersDelete => |mama, ctx, s, p| mama.delete_users(ctx, s, p).await;
    UsersTrash => |mama, ctx, s, p| mama.list_trash(ctx, s, p).await;
    UsersRestore => |mama, ctx, s, p| mama.restore_users(ctx, s, p).await;
    UsersPurge => |mama, ctx, s, p| mama.purge_users(ctx, s, p).await;
    UsersBulkUpdate => |mama, ctx, s, p| mama.bulk_update(ctx, s, p).await;
    UsersRotateKeys => |mama, ctx, s, p| mama.rotate_keys(ctx, s, p).await;
    ServicesList => |mama, ctx, s, _| mama.list_services(ctx, s).await;
    ServicesCreate => |mama, ctx, s, p| mama.create_service(ctx, s, p).await;
    ServicesDelete => |mama, ctx, s, p| mama.delete_service(ctx, s, p).await;
    ServicesIssueToken => |mama, ctx, s, p| mama.issue_token(ctx, s, p).await;
    ServicesRevokeToken => |mama, ctx, s, p| mama.revoke_token(ctx, s, p).await.map(|()| Done {});
    OrganizationsList => |mama, ctx, s, _| mama.list_organizations(ctx, s).await;
    OrganizationsSetDefaults => |mama, ctx, s, p| mama.set_organization_defaults(ctx, s, p).await;
    EventsUndo => |mama, ctx, s, p| mama.undo_event(ctx, s, p).await;
    EventsList => |mama, ctx, s, p| mama.list_events(ctx, s, p).await;
    ModelsList => |mama, ctx, s, p| mama.list_models(ctx, s, p).await;
    SyncStatus => |mama, ctx, s, _| mama.sync_status(ctx, s).await;
    SyncReconcile => |mama, ctx, s, _| mama.sync_reconcile(ctx, s).await;
    UsageQuery => |mama, ctx, s, p| mama.usage_query(ctx, s, p).await;
    UsageRefresh => |mama, ctx, s, _| mama.usage_refresh(ctx, s).await;
    SyncRetryFailed => |mama, ctx, s, p| mama.retry_failed(ctx, s, p).await;
}
