from django.urls import path

from csp_platform.plans import smart_views, views

app_name = "plans"
urlpatterns = [
    path("", views.plan_list, name="plans"),
    path("smart/", smart_views.smart_summary, name="smart"),
    path("<uuid:plan>/", views.plan_detail, name="plan"),
    path("<uuid:plan>/export.<str:fmt>", views.plan_export, name="export"),
    path("<uuid:plan>/actions/new/", views.action_add, name="action_add"),
    path("actions/<uuid:action>/", views.action_detail, name="action"),
    path("actions/<uuid:action>/edit/", views.action_edit, name="action_edit"),
    path("actions/<uuid:action>/update/", views.action_update, name="action_update"),
]
