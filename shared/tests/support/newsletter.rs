//! A newsletter as marketing tools write them, of any size: for the mail
//! fidelity tests and the `mail_html` benchmark (which includes this file).

/// A newsletter as marketing tools write them: layout tables four deep,
/// every cell with a headline, a paragraph and links, until `bytes`.
pub fn newsletter(bytes: usize) -> String {
    let cell = |i: usize| {
        format!(
            "<td width=\"50%\" style=\"padding:8px\"><h3>Offer {i}</h3><p>Save on item {i} this week only, \
             see <a href=\"https://shop.example/item/{i}\">the item</a> and \
             <a href=\"https://shop.example/more/{i}\">more like it</a>.</p></td>"
        )
    };
    let mut html = String::from("<html><body><table width=\"600\"><tr><td><table><tr><td><table>");
    let mut i = 0;
    while html.len() < bytes {
        html.push_str(&format!(
            "<tr><td><table border=\"1\"><tr>{}{}</tr></table></td></tr>",
            cell(i),
            cell(i + 1)
        ));
        i += 2;
    }
    html.push_str("</table></td></tr></table></td></tr></table></body></html>");
    html
}
