"""Every channel notify sends by — email, SMS, printed letter — each turning a recorded
Dispatch into a real message, chosen by the dispatch's method."""

from __future__ import annotations

import logging
from collections.abc import Callable
from datetime import date, datetime
from typing import Any

from hotro.services.notify.adapters.email_smtp import Mailer, OutgoingEmail, is_message_id
from hotro.services.notify.adapters.headers import one_line
from hotro.services.notify.adapters.letter_pdf import Letter, LetterStore, render_letter_pdf
from hotro.services.notify.adapters.rendering import (
    CompanyInfo,
    format_date,
    render,
    request_kind,
)
from hotro.services.notify.adapters.sms import ShortMessage, ShortMessageGateway
from hotro.services.notify.application.channel import PermanentFailure
from hotro.services.notify.domain import Contact, Dispatch
from hotro.shared.clock import VIETNAM_TZ
from hotro.shared.reference import CATALOGUE_FILE

log = logging.getLogger(__name__)

_DATE_KEYS = {"reply_deadline", "new_reply_deadline", "previous_reply_deadline", "due_date",
              "deadline", "previous_deadline", "incident_date", "filing_deadline"}
_DATETIME_KEYS = {"received_at", "due_at"}
_AUTOMATIC = {"acknowledgement", "reminder", "customer_link", "reopened", "withdrawn",
              "filing_review",
              "reply_date_moved", "follow_up_received", "alert_deadline_approaching",
              "alert_deadline_breached", "alert_deadline_moved",
              "alert_new_referral", "alert_referral_ended", "alert_customer_withdrew",
              "alert_delivery_failed",
              "alert_follow_up"}
#: SMS texts without diacritics (one GSM-7 segment, as Vietnamese SMS are usually written)
_SMS_TEXT = {
    "vi": {
        "acknowledgement": "{company}: da tiep nhan {noun} {reference}. Hotline {hotline}.",
        "info_request": "{company}: {noun} {reference} can bo sung thong tin. Vui long goi "
                        "{hotline} hoac den quay ho tro.",
        "reply": "{company}: da co ket qua cho {noun} {reference}. Hotline {hotline}.",
        "refusal": "{company}: {noun} {reference} khong duoc thu ly. Hotline {hotline}.",
        "reminder": "{company}: nhac bo sung thong tin cho {noun} {reference}. Hotline "
                    "{hotline}.",
        "reopened": "{company}: {noun} {reference} da duoc mo lai, han tra loi moi {due}. "
                    "Hotline {hotline}.",
        "reply_date_moved": "{company}: han tra loi {noun} {reference} da thay doi, nay la "
                            "{due}. Hotline {hotline}.",
        "filing_accepted": "{company}: {noun} {reference} gui sau thoi han da duoc chap nhan "
                           "giai quyet, han tra loi {due}. Hotline {hotline}.",
        "filing_review": "{company}: {noun} {reference} gui sau thoi han, dang duoc xem xet; "
                         "han tra loi cu tam khong ap dung. Hotline {hotline}.",
        "follow_up_received": "{company}: da nhan thong tin gui them ve {noun} {reference}, "
                              "nhan vien se xem xet. Hotline {hotline}.",
        "customer_link": "{company}: duong dan moi theo doi {noun} {reference} (link cu het "
                         "hieu luc). Hotline {hotline}.",
        "withdrawn": "{company}: da ghi nhan quy khach rut {noun} {reference}, ho so da ket "
                     "thuc. Hotline {hotline}.",
    },
    "en": {
        "acknowledgement": "{company}: we received your {noun} {reference}. Hotline {hotline}.",
        "info_request": "{company}: your {noun} {reference} needs more information. Please "
                        "call {hotline} or visit our counter.",
        "reply": "{company}: we have an answer to your {noun} {reference}. Hotline {hotline}.",
        "refusal": "{company}: your {noun} {reference} cannot be accepted. Hotline {hotline}.",
        "reminder": "{company}: information still missing for your {noun} {reference}. "
                    "Hotline {hotline}.",
        "reopened": "{company}: your {noun} {reference} was reopened, new reply date {due}. "
                    "Hotline {hotline}.",
        "reply_date_moved": "{company}: the reply date of your {noun} {reference} has "
                            "changed to {due}. Hotline {hotline}.",
        "filing_accepted": "{company}: your late {noun} {reference} was accepted, reply date "
                           "{due}. Hotline {hotline}.",
        "filing_review": "{company}: your {noun} {reference} was filed late and is under "
                         "review; the earlier reply date is on hold. Hotline {hotline}.",
        "follow_up_received": "{company}: we received your message about {noun} "
                              "{reference}; our staff will review it. Hotline {hotline}.",
        "customer_link": "{company}: a new link to follow your {noun} {reference} (old links "
                         "no longer work). Hotline {hotline}.",
        "withdrawn": "{company}: your {noun} {reference} is withdrawn; the case has ended. "
                     "Hotline {hotline}.",
    },
}
_SMS_NOUN = {"vi": {"complaint": "khieu nai", "advice": "yeu cau tu van"},
             "en": {"complaint": "complaint", "advice": "advice request"}}
#: appended to an SMS whose dispatch carries the customer's link (kept short)
_SMS_LINK = {"vi": " Theo doi: {link}", "en": " Follow: {link}"}


def sms_text(purpose: str, lang: str, context: dict[str, Any], company: CompanyInfo) -> str:
    """The SMS a customer receives for ``purpose``: kind-aware, in their language."""
    lang = lang if lang in _SMS_TEXT else "vi"
    texts = _SMS_TEXT[lang]
    due = context.get("new_reply_deadline") or context.get("reply_deadline")
    text = texts.get(purpose, texts["reply"]).format(
        company=company.name, reference=context["reference"], hotline=company.hotline,
        noun=_SMS_NOUN[lang][request_kind(context)],
        due=format_date(date.fromisoformat(due) if isinstance(due, str) else due)
        if due else "")
    link = context.get("customer_link")
    if link:
        text += _SMS_LINK[lang].format(link=link)
    return text


def template_context(context: dict[str, Any]) -> dict[str, Any]:
    """Stored contexts are JSON; templates want dates and datetimes."""
    out = dict(context)
    for key in _DATE_KEYS & out.keys():
        if isinstance(out[key], str):
            out[key] = date.fromisoformat(out[key])
    for key in _DATETIME_KEYS & out.keys():
        if isinstance(out[key], str):
            out[key] = datetime.fromisoformat(out[key])
    if "items" in out:
        out["items"] = list(out["items"])
    return out


class Channels:
    """The ``Channel`` the application sends through: picks the transport by method."""

    def __init__(self, *, email: Mailer, sms: ShortMessageGateway, letters: LetterStore,
                 company: CompanyInfo, clock: Callable[[], datetime],
                 signer_name: str = "Bộ phận Hỗ trợ khách hàng",
                 signer_title: str = "Trung tâm hỗ trợ khách hàng",
                 catalogue: str = str(CATALOGUE_FILE)) -> None:
        self.email = email
        self.sms = sms
        self.letters = letters
        self.company = company
        self.clock = clock
        self.signer_name = signer_name
        self.signer_title = signer_title
        self.catalogue = catalogue

    def deliver(self, dispatch: Dispatch, contact: Contact | None) -> str:
        if dispatch.method == "email":
            return self._email(dispatch, contact)
        if dispatch.method == "sms":
            return self._sms(dispatch)
        if dispatch.method in ("letter", "receipt_slip"):
            return self._letter(dispatch, contact)
        raise PermanentFailure(f"notify does not send by {dispatch.method}")

    def _rendered(self, dispatch: Dispatch) -> Any:
        try:
            return render(dispatch.purpose, dispatch.language, template_context(dispatch.context),
                          self.company, method=dispatch.method, catalogue=self.catalogue)
        except Exception as exc:  # a template that cannot render never will
            raise PermanentFailure(f"cannot render {dispatch.purpose}: {exc}") from exc

    def _email(self, dispatch: Dispatch, contact: Contact | None) -> str:
        rendered = self._rendered(dispatch)
        if not dispatch.message_id:
            raise PermanentFailure("email dispatch without a Message-ID")
        # Threading is a courtesy: an id from the customer's mail that cannot be written
        # back (stored before intake refused such ids) must not stop the message itself.
        in_reply_to = dispatch.in_reply_to if dispatch.in_reply_to and \
            is_message_id(dispatch.in_reply_to) else None
        if dispatch.in_reply_to and in_reply_to is None:
            log.warning("%s: the customer's Message-ID %r cannot be written back; sent "
                        "without In-Reply-To", dispatch.id, dispatch.in_reply_to)
        references = [in_reply_to] if in_reply_to else []
        # The name is ours to put on one line (one stored before intake refused line
        # breaks in names once made every email to that customer fail as unbuildable).
        name = contact.customer.get("name") if contact and not dispatch.internal else None
        try:
            message = OutgoingEmail(
                to=dispatch.recipient, subject=rendered.subject, text=rendered.text,
                html=rendered.html, message_id=dispatch.message_id,
                in_reply_to=in_reply_to, references=references,
                reference=dispatch.reference,
                to_name=one_line(name) if name else None,
                auto_submitted=dispatch.purpose in _AUTOMATIC)
        except ValueError as exc:
            raise PermanentFailure(f"cannot build the email: {exc}") from exc
        self.email.send(message)
        return dispatch.message_id

    def _sms(self, dispatch: Dispatch) -> str:
        text = sms_text(dispatch.purpose, dispatch.language,
                        {**dispatch.context, "reference": dispatch.reference}, self.company)
        try:
            message = ShortMessage(to=dispatch.recipient, text=text,
                                   reference=dispatch.reference,
                                   idempotency_key=str(dispatch.id))
        except ValueError as exc:
            raise PermanentFailure(f"bad phone number: {exc}") from exc
        self.sms.send(message)
        return f"sms:{dispatch.id}"

    def _letter(self, dispatch: Dispatch, contact: Contact | None) -> str:
        rendered = self._rendered(dispatch)
        customer = contact.customer if contact else {}
        address = [line.strip() for line in (customer.get("address") or "").split(",")
                   if line.strip()] or ["(nhận trực tiếp tại quầy)"]
        paragraphs = [p.strip() for p in rendered.text.split("\n\n") if p.strip()]
        letter = Letter(reference=dispatch.reference,
                        date=self.clock().astimezone(VIETNAM_TZ).date(),
                        recipient_name=customer.get("name") or dispatch.recipient,
                        recipient_address=address, subject=rendered.subject,
                        paragraphs=paragraphs or [rendered.text], signer_name=self.signer_name,
                        signer_title=self.signer_title, company=self.company,
                        lang=dispatch.language if dispatch.language in ("vi", "en") else "vi")
        path = self.letters.save(str(dispatch.id), render_letter_pdf(letter))
        return f"letter:{path.name}"
