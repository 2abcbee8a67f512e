from django.urls import path

from csp_platform.core import audit_views, member_views, views

app_name = "core"
urlpatterns = [
    path("", views.home, name="home"),
    path("sign-in/", views.sign_in, name="sign_in"),
    path("sign-in/second-factor/", views.second_factor, name="second_factor"),
    path("sign-out/", views.sign_out, name="sign_out"),
    path("p/<slug:partnership>/audit/", audit_views.audit_search, name="audit_search"),
    path(
        "p/<slug:partnership>/audit/seen/<str:target_type>/<str:target_id>/",
        audit_views.audit_seen,
        name="audit_seen",
    ),
    path("p/<slug:partnership>/agreements/", audit_views.agreements, name="agreements"),
    path("account/second-factor/", views.second_factor_enrol, name="second_factor_enrol"),
    path("account/password/", views.password_change, name="password_change"),
    path(
        "set-password/<str:uidb64>/<str:token>/",
        member_views.set_password,
        name="set_password",
    ),
]
