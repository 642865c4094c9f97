"""The console's words for what intake found after receipt: possible duplicates (earlier
requests of the same customer about the same product or order; support or a supervisor
decides) and an incident date the customer gave later."""

VI: dict[str, str] = {
    "dup.title": "Có thể trùng lặp",
    "dup.intro": "Yêu cầu trước đó của cùng khách hàng, về cùng sản phẩm hoặc mã đơn hàng, "
                 "gửi trong thời gian gần đây (qua bất kỳ kênh nào).",
    "dup.row": "trùng {matched} · nhận ra qua {contact}",
    "dup.matched.product": "sản phẩm",
    "dup.matched.order": "mã đơn hàng",
    "dup.contact.email": "email",
    "dup.contact.phone": "số điện thoại",
    "dup.status.possible": "Chưa xử lý",
    "dup.status.merged": "Đã gộp",
    "dup.status.dismissed": "Không trùng",
    "dup.reason": "Lý do (không bắt buộc)",
    "dup.confirm": "Xác nhận trùng, gộp vào {reference}",
    "dup.dismiss": "Không trùng",
    "dup.merged_into": "Yêu cầu này đã được gộp vào {reference}. Hãy đóng hồ sơ này "
                       "(lý do: đã gộp vào {reference}).",
    "dup.merged_from": "Đã gộp vào hồ sơ này: {references}",
    "action.duplicate_confirm": "Đã xác nhận trùng lặp.",
    "action.duplicate_dismiss": "Đã ghi nhận: không trùng lặp.",
    "dup.date_given": "khách cho biết sau: «{phrase}»",
    "dup.date_from_text": "Ngày xảy ra sự việc lấy từ nội dung email: «{phrase}».",
    "dup.date_not_found": "Email không nêu rõ ngày xảy ra sự việc: đề xuất hỏi khách "
                          "(mục «Ngày xảy ra sự việc»).",
}

EN: dict[str, str] = {
    "dup.title": "Possible duplicates",
    "dup.intro": "Earlier requests of the same customer about the same product or order "
                 "number, received recently (through any channel).",
    "dup.row": "same {matched} · recognised by {contact}",
    "dup.matched.product": "product",
    "dup.matched.order": "order number",
    "dup.contact.email": "email",
    "dup.contact.phone": "phone number",
    "dup.status.possible": "Not decided",
    "dup.status.merged": "Merged",
    "dup.status.dismissed": "Not a duplicate",
    "dup.reason": "Reason (optional)",
    "dup.confirm": "Confirm: merge into {reference}",
    "dup.dismiss": "Not a duplicate",
    "dup.merged_into": "This request was merged into {reference}. Close this case (reason: "
                       "merged into {reference}).",
    "dup.merged_from": "Merged into this case: {references}",
    "action.duplicate_confirm": "Duplicate confirmed.",
    "action.duplicate_dismiss": "Recorded: not a duplicate.",
    "dup.date_given": "given later by the customer: “{phrase}”",
    "dup.date_from_text": "The incident date was read from the email: “{phrase}”.",
    "dup.date_not_found": "The email states no clear incident date: ask the customer for it "
                          "(item “The date it happened”).",
}
