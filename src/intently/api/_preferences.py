"""The preference center: every message's signed link (`/u/<token>`) opens a page where the
customer, with no login, sees what their data may be used for (consent per purpose) and
changes it, in their language. A change is an event (`Consent Updated`, with its source and
legal basis), so it shows in their timeline and export and every decision reads it at once.
A POST with no form (RFC 8058 one-click, from the mail client) unsubscribes the message's
channel."""

from __future__ import annotations

import html
from typing import Any
from urllib.parse import parse_qs

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse

from ..profiles import PURPOSES, permits
from ._deps import on_engine, services, submit_link_event

public = APIRouter(tags=["tracking"])

TEXT: dict[str, dict[str, str]] = {
    "en": {"title": "Your preferences", "save": "Save", "saved": "Saved. Thank you.",
           "intro": "Choose what we may use your data for. Changes apply at once.",
           "email": "Emails from us", "sms": "Text messages", "push": "Push notifications",
           "personalization": "Content and recommendations chosen for you",
           "offers": "Offers at the checkout", "analytics": "Your activity in our analytics",
           "unsubscribed": "Done: you will not get {channel} messages from us any more."},
    "ru": {"title": "Ваши настройки", "save": "Сохранить", "saved": "Сохранено. Спасибо.",
           "intro": "Выберите, для чего мы можем использовать ваши данные. Изменения "
                    "вступают в силу сразу.",
           "email": "Письма от нас", "sms": "SMS-сообщения", "push": "Push-уведомления",
           "personalization": "Подобранные для вас материалы и рекомендации",
           "offers": "Предложения на кассе", "analytics": "Ваша активность в нашей аналитике",
           "unsubscribed": "Готово: сообщений по каналу {channel} больше не будет."},
    "zh": {"title": "您的偏好设置", "save": "保存", "saved": "已保存，谢谢。",  # noqa: RUF001
           "intro": "请选择我们可以将您的数据用于哪些用途。更改立即生效。",
           "email": "我们的电子邮件", "sms": "短信", "push": "推送通知",
           "personalization": "为您挑选的内容和推荐", "offers": "结账时的优惠",
           "analytics": "在我们的分析中使用您的活动",
           "unsubscribed": "完成：您将不再收到 {channel} 消息。"},  # noqa: RUF001
}

_PAGE = ("<!doctype html><html lang={lang}><meta charset=utf-8>"
         "<meta name=viewport content='width=device-width'><title>{t}</title>"
         "<body style='font-family:system-ui;max-width:32rem;margin:4rem auto'>{b}</body>")


def language(request: Request, profile: Any) -> str:
    """The customer's language: their record's locale, else the browser's, else English."""
    wanted = []
    if profile is not None:
        wanted += [str(profile.traits.get(k, "")) for k in ("locale", "language")]
    wanted += [part.split(";")[0].strip() for part in
               request.headers.get("accept-language", "").split(",")]
    for tag in wanted:
        code = tag.lower().replace("_", "-").split("-")[0]
        if code in TEXT:
            return code
    return "en"


def _page(lang: str, title: str, body: str) -> HTMLResponse:
    return HTMLResponse(_PAGE.format(lang=lang, t=html.escape(title), b=body))


async def _profile(request: Request, record: str) -> Any:
    return await on_engine(request, lambda e: e.find(record))


@public.get("/u/{token}", summary="Preference center", include_in_schema=False)
async def preferences(request: Request, token: str) -> HTMLResponse:
    data = services(request).tokens.read(token)  # 400 when forged
    profile = await _profile(request, str(data.get("p", "")))
    lang = language(request, profile)
    t = TEXT[lang]
    rows = "".join(
        f"<p><label><input type=checkbox name={p} value=on"
        f"{' checked' if permits(profile, p) else ''}> {html.escape(t[p])}</label></p>"
        for p in PURPOSES)
    form = (f"<h1>{html.escape(t['title'])}</h1><p>{html.escape(t['intro'])}</p>"
            f"<form method=post><input type=hidden name=form value=preferences>{rows}"
            f"<button type=submit>{html.escape(t['save'])}</button></form>")
    return _page(lang, t["title"], form)


@public.post("/u/{token}", summary="Save preferences (no form: RFC 8058 one-click "
             "unsubscribe)", include_in_schema=False)
async def save_preferences(request: Request, token: str) -> HTMLResponse:
    data = services(request).tokens.read(token)
    record, channel, mid = str(data.get("p", "")), str(data.get("c", "email")), data.get("m")
    form = parse_qs((await request.body())[:4096].decode("utf-8", "replace"))
    if form.get("form") == ["preferences"]:
        consents = {p: form.get(p) == ["on"] for p in PURPOSES}
        ev = {"type": "track", "event": "Consent Updated", "userId": record,
              "messageId": f"preferences:{mid}:{sorted(consents.items())}",
              "properties": {"consents": consents, "source": "preference_center",
                             "legal_basis": "consent", "message_id": mid}}
    else:  # a one-click unsubscribe from the mail client: the message's channel only
        ev = {"type": "track", "event": "Unsubscribed", "userId": record,
              "messageId": f"unsubscribe:{mid}",
              "properties": {"channel": channel, "message_id": mid,
                             "source": "unsubscribe_link", "legal_basis": "consent"}}
    await submit_link_event(request, ev)

    lang = language(request, await _profile(request, record))
    t = TEXT[lang]
    done = (t["saved"] if form.get("form") == ["preferences"]
            else t["unsubscribed"].format(channel=channel))
    return _page(lang, t["title"], f"<h1>{html.escape(t['title'])}</h1>"
                                   f"<p role=status>{html.escape(done)}</p>")
