"""Token endpoints (simplejwt) with strict JSON types, the auth throttle and documented errors."""

from __future__ import annotations

from typing import Any

from django.core.exceptions import ObjectDoesNotExist
from drf_spectacular.utils import extend_schema, extend_schema_view
from rest_framework.exceptions import AuthenticationFailed
from rest_framework_simplejwt import serializers as jwt_serializers
from rest_framework_simplejwt import views as jwt_views
from rest_framework_simplejwt.settings import api_settings as jwt_settings
from rest_framework_simplejwt.token_blacklist.models import BlacklistedToken
from rest_framework_simplejwt.tokens import UntypedToken

from codeai.kernel.api.authentication import local_user
from codeai.kernel.api.fields import StrictCharField
from codeai.kernel.api.schema import BODY_ERRORS, error_responses
from codeai.kernel.api.throttles import AuthThrottle


class TokenObtainSerializer(jwt_serializers.TokenObtainPairSerializer):
    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.fields[self.username_field] = StrictCharField(write_only=True)
        self.fields["password"] = StrictCharField(
            write_only=True, trim_whitespace=False, style={"input_type": "password"}
        )


class TokenRefreshSerializer(jwt_serializers.TokenRefreshSerializer):
    refresh = StrictCharField()

    def validate(self, attrs: dict[str, Any]) -> dict[str, str]:
        try:
            return super().validate(attrs)
        except ObjectDoesNotExist:
            raise AuthenticationFailed("token user does not exist or is inactive") from None


class TokenVerifySerializer(jwt_serializers.TokenVerifySerializer):
    """A token this server signed, not blacklisted, of a user who still exists and is active."""

    token = StrictCharField(write_only=True)

    def validate(self, attrs: dict[str, Any]) -> dict[str, Any]:
        token = UntypedToken(attrs["token"])  # signature and expiry; TokenError is a 401
        if BlacklistedToken.objects.filter(token__jti=token.get(jwt_settings.JTI_CLAIM)).exists():
            raise AuthenticationFailed("token is blacklisted")
        local_user(token.payload)
        return {}


_TOKEN_ERRORS = error_responses(
    *BODY_ERRORS, e401="Wrong credentials, or an invalid or expired token."
)
del _TOKEN_ERRORS[403]


@extend_schema_view(
    post=extend_schema(
        summary="Obtain an access and a refresh token with a username and password",
        responses={200: jwt_serializers.TokenObtainPairSerializer, **_TOKEN_ERRORS},
    )
)
class TokenObtainView(jwt_views.TokenObtainPairView):
    serializer_class = TokenObtainSerializer
    throttle_classes = [AuthThrottle]


@extend_schema_view(
    post=extend_schema(
        summary="A new access token for a refresh token",
        responses={200: TokenRefreshSerializer, **_TOKEN_ERRORS},
    )
)
class TokenRefreshView(jwt_views.TokenRefreshView):
    serializer_class = TokenRefreshSerializer
    throttle_classes = [AuthThrottle]


@extend_schema_view(
    post=extend_schema(
        summary="Check that a token this server issued is valid",
        responses={200: None, **_TOKEN_ERRORS},
    )
)
class TokenVerifyView(jwt_views.TokenVerifyView):
    serializer_class = TokenVerifySerializer
    throttle_classes = [AuthThrottle]
