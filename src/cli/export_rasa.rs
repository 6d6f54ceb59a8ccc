//! `frontdoor export-rasa --out DIR`: the configured content as a Rasa 3.x project
//! (`data/nlu.yml`, `data/rules.yml`, `domain.yml`), so a team can train Rasa on our intents or
//! compare engines; what Rasa cannot express is listed with `file:line` and why.

use std::path::PathBuf;

use crate::config::Config;
use crate::knowledge::Knowledge;
use crate::knowledge::rasa;

#[derive(clap::Args)]
pub struct Args {
    /// The folder to write the Rasa project into (files of the same names are replaced).
    #[arg(long)]
    out: PathBuf,
}

pub fn run(config: &Config, a: Args) -> anyhow::Result<()> {
    let engine_config = crate::app::engine_config(&config.engine);
    let k =
        Knowledge::load(&config.content_dir, engine_config).map_err(|e| anyhow::anyhow!("{e}"))?;
    let (project, left_out) = rasa::export::from_knowledge(&k);
    let written = rasa::write_project(&a.out, &project)?;
    let examples: usize = project.intents.iter().map(|i| i.examples.len()).sum();
    println!(
        "Exported {} intents ({examples} examples), {} responses, {} synonyms, {} regexes to:",
        project.intents.len(),
        project.responses.len(),
        project.synonyms.len(),
        project.regexes.len()
    );
    for path in written {
        println!("  {}", path.display());
    }
    if !left_out.is_empty() {
        println!("\nNot exported as such ({}):", left_out.len());
        for s in &left_out {
            println!("  {s}");
        }
    }
    Ok(())
}
