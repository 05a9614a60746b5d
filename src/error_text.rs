//! How an error reads to a person, in the CLI and the GUI alike.

/// The error and its causes on one line, as anyhow's `{:#}` writes them, except that a cause
/// whose text the message already contains is not repeated (our errors name their source in
/// their own text, e.g. "photo.jpg: No such file or directory").
pub fn error_message(err: &anyhow::Error) -> String {
    let mut message = String::new();
    for cause in err.chain() {
        let text = cause.to_string();
        if message.contains(&text) {
            continue;
        }
        if !message.is_empty() {
            message.push_str(": ");
        }
        message.push_str(&text);
    }
    message
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_cause_already_in_the_message_is_not_repeated() {
        let io = std::io::Error::new(std::io::ErrorKind::NotFound, "No such file or directory");
        let photo = crate::face::ImageError::Io { path: "a.jpg".into(), source: io };
        let err = anyhow::Error::new(photo).context("scoring the pairs");
        assert_eq!(error_message(&err), "scoring the pairs: a.jpg: No such file or directory");
        // A cause the message does not contain still shows.
        let err = anyhow::anyhow!("disk full").context("writing results.json");
        assert_eq!(error_message(&err), "writing results.json: disk full");
    }
}
