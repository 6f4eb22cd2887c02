"""The OData provider: Dynamics 365 (Dataverse) Web API and any OData v4 service (``provider``).

The package itself imports nothing: a second process that decodes pages (``pages``) must not
load the HTTP and sign-in libraries.
"""
