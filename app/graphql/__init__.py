"""GraphQL for integrators (seed 000 §5.2, API.md "GraphQL"): `/graphql` over the same services as REST.

Resolvers call the domain services (`app/listings`, `app/search`, `app/reservations`, `app/deals`) with the
caller's Principal, so every rule (roles, verification levels, API-key scopes, who may read what) is the
one REST applies; a service's AppError reaches the client as `errors[].extensions.code`.
"""
